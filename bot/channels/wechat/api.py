"""The WeChat HTTP API over httpx, and the one shared access_token.

wechatpy's own client is synchronous (requests) and would block the event loop; it is used
for cryptography, parsing and replies only.

The access_token: every fetch through the classic endpoint invalidates the previous token,
so exactly one owner refreshes it. It lives in Redis; a process that finds it missing takes
a Redis lock, looks again (another process may have just fetched it), and only then asks
`stable_token`. When the API says the token is invalid (40001/42001), the caller asks for a
forced refresh of *that* token: the first process to get the lock refreshes it, the others
find a different token in Redis and use it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from redis.asyncio import Redis

from candor.logging import get_logger

log = get_logger(__name__)

TOKEN_INVALID = frozenset({40001, 40014, 42001})  # invalid, malformed, expired
TOKEN_MARGIN_SECONDS = 300  # refresh five minutes before WeChat's expiry
LOCK_TIMEOUT_SECONDS = 15.0


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"wechat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class AccessTokens:
    def __init__(
        self, redis: Redis, http: httpx.AsyncClient, *, api_base: str, app_id: str, secret: str
    ) -> None:
        self._redis = redis
        self._http = http
        self._api_base = api_base
        self._app_id = app_id
        self._secret = secret
        self._key = f"wechat:{app_id}:access_token"
        self._lock_key = f"wechat:{app_id}:access_token:lock"

    async def get(self) -> str:
        cached = await self._redis.get(self._key)
        if cached:
            return str(cached)
        async with self._redis.lock(
            self._lock_key, timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=LOCK_TIMEOUT_SECONDS
        ):
            cached = await self._redis.get(self._key)
            if cached:
                return str(cached)
            return await self._fetch(force_refresh=False)

    async def refresh(self, rejected: str) -> str:
        """A new token after the API rejected `rejected`; refreshed once however many ask."""
        async with self._redis.lock(
            self._lock_key, timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=LOCK_TIMEOUT_SECONDS
        ):
            cached = await self._redis.get(self._key)
            if cached and cached != rejected:
                return str(cached)
            return await self._fetch(force_refresh=True)

    async def _fetch(self, *, force_refresh: bool) -> str:
        response = await self._http.post(
            f"{self._api_base}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._secret,
                "force_refresh": force_refresh,
            },
        )
        response.raise_for_status()
        body = response.json()
        errcode = int(body.get("errcode", 0) or 0)
        if errcode or "access_token" not in body:
            raise WeChatApiError(errcode or -1, str(body.get("errmsg", "no access_token")))
        token = str(body["access_token"])
        lifetime = max(60, int(body.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS)
        await self._redis.set(self._key, token, ex=lifetime)
        log.info("wechat.access_token_refreshed", forced=force_refresh, expires_in=lifetime)
        return token


class WeChatApi:
    """The calls Candor makes. Each returns WeChat's JSON answer with errcode 0, or raises
    `WeChatApiError`; httpx errors (timeouts, connection failures, 5xx) propagate."""

    def __init__(self, http: httpx.AsyncClient, tokens: AccessTokens, *, api_base: str) -> None:
        self._http = http
        self._tokens = tokens
        self._api_base = api_base

    async def send_custom_text(self, openid: str, text: str) -> dict[str, Any]:
        return await self._post(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": text}},
        )

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, str], *, url: str | None = None
    ) -> dict[str, Any]:
        """A template message; `url` is the page it opens when tapped (a booking link)."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        if url is not None:
            body["url"] = url
        return await self._post("/cgi-bin/message/template/send", body)

    async def send_subscription(
        self, openid: str, *, template_id: str, scene: int, title: str, content: str
    ) -> dict[str, Any]:
        return await self._post(
            "/cgi-bin/message/template/subscribe",
            {
                "touser": openid,
                "template_id": template_id,
                "scene": str(scene),
                "title": title,
                "data": {"content": {"value": content}},
            },
        )

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        # WeChat shows \uXXXX escapes literally in customer-service texts: send raw UTF-8.
        content = json.dumps(payload, ensure_ascii=False).encode()
        token = await self._tokens.get()
        body = await self._send(path, token, content)
        if int(body.get("errcode", 0) or 0) in TOKEN_INVALID:
            token = await self._tokens.refresh(token)
            body = await self._send(path, token, content)
        errcode = int(body.get("errcode", 0) or 0)
        if errcode:
            raise WeChatApiError(errcode, str(body.get("errmsg", "")))
        return body

    async def _send(self, path: str, token: str, content: bytes) -> dict[str, Any]:
        response = await self._http.post(
            f"{self._api_base}{path}",
            params={"access_token": token},
            content=content,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
