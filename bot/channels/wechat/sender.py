"""The dispatcher's WeChat channel: the cheapest message type WeChat will take right now.

1. A customer-service text while the user's 48-hour window is open (the full body).
2. Otherwise a template message, when the result's template names a WeChat template.
3. Otherwise a one-time subscription notification, when the user granted one.

An errcode that refuses one type (45015 window closed, 45047 quota used up) moves on to the
next type; 43004 (the user does not follow the account) refuses them all, and the
dispatcher falls back to the candidate's next channel.
"""

from __future__ import annotations

import httpx
from redis.exceptions import RedisError

from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.channels.wechat.state import WeChatState
from candor.delivery.ports import Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.logging import get_logger
from candor.models.enums import Channel

log = get_logger(__name__)

NOT_FOLLOWING = 43004
OUTSIDE_WINDOW = 45015
QUOTA_USED_UP = 45047
API_QUOTA = 45009
SYSTEM_BUSY = -1
TRANSIENT_RETRY_SECONDS = 5.0
# 45009 is the daily API quota: trying again within minutes only burns more calls.
API_QUOTA_RETRY_SECONDS = 900.0
SUBSCRIPTION_TITLE_LIMIT = 20  # characters WeChat shows as the notification's title
SUBSCRIPTION_CONTENT_LIMIT = 200


class WeChatChannel:
    channel = Channel.WECHAT

    def __init__(self, api: WeChatApi, state: WeChatState, http: httpx.AsyncClient) -> None:
        self._api = api
        self._state = state
        self._http = http

    async def send(self, delivery: Delivery) -> SendResult:
        openid = delivery.recipient
        try:
            return await self._send(delivery, openid)
        except WeChatApiError as exc:
            return _classify(exc)
        except httpx.TimeoutException:
            return RetryAfter(TRANSIENT_RETRY_SECONDS, "wechat timeout")
        except httpx.HTTPError as exc:
            return RetryAfter(TRANSIENT_RETRY_SECONDS, f"wechat transport: {type(exc).__name__}")
        except RedisError as exc:  # the token, the window and grants live there
            return RetryAfter(TRANSIENT_RETRY_SECONDS, f"redis: {type(exc).__name__}")

    async def _send(self, delivery: Delivery, openid: str) -> SendResult:
        if await self._state.take_window_slot(openid):
            try:
                await self._api.send_custom_text(openid, delivery.body)
            except WeChatApiError as exc:
                await self._state.return_window_slot(openid)
                if exc.errcode not in (OUTSIDE_WINDOW, QUOTA_USED_UP):
                    raise
                await self._state.close_window(openid)
                log.info("wechat.window_refused", errcode=exc.errcode)
            except BaseException:
                await self._state.return_window_slot(openid)
                raise
            else:
                return Sent(None)
        if delivery.wechat_template_id and delivery.wechat_data:
            try:
                answer = await self._api.send_template(
                    openid, delivery.wechat_template_id, delivery.wechat_data, url=delivery.link
                )
            except WeChatApiError as exc:
                if exc.errcode != QUOTA_USED_UP:
                    raise
                log.info("wechat.template_refused", errcode=exc.errcode)
            else:
                return Sent(_message_id(answer))
        grant = await self._state.take_subscription_grant(openid)
        if grant is not None:
            try:
                answer = await self._api.send_subscription(
                    openid,
                    template_id=grant.template_id,
                    scene=grant.scene,
                    title=delivery.subject[:SUBSCRIPTION_TITLE_LIMIT],
                    content=delivery.body[:SUBSCRIPTION_CONTENT_LIMIT],
                )
            except WeChatApiError as exc:
                if exc.errcode in (SYSTEM_BUSY, API_QUOTA):
                    await self._state.return_subscription_grant(openid, grant)
                raise
            except BaseException:
                await self._state.return_subscription_grant(openid, grant)
                raise
            return Sent(_message_id(answer))
        return Permanent(
            "wechat: outside the 48-hour window, and no template message or subscription grant"
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _classify(exc: WeChatApiError) -> SendResult:
    if exc.errcode == SYSTEM_BUSY:
        return RetryAfter(TRANSIENT_RETRY_SECONDS, "wechat system busy (-1)")
    if exc.errcode == API_QUOTA:
        return RetryAfter(API_QUOTA_RETRY_SECONDS, "wechat api quota reached (45009)")
    if exc.errcode in (40001, 40014, 42001):
        # Still refused after one refresh: another owner may be mid-refresh; try later.
        return RetryAfter(TRANSIENT_RETRY_SECONDS, f"wechat access_token refused ({exc.errcode})")
    if exc.errcode == NOT_FOLLOWING:
        return Permanent("wechat: the user does not follow the account (43004)")
    return Permanent(f"wechat errcode {exc.errcode}: {exc.errmsg[:200]}")


def _message_id(answer: dict[str, object]) -> str | None:
    msgid = answer.get("msgid")
    return None if msgid is None else str(msgid)
