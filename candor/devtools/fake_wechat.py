"""A local stand-in for the WeChat Official Account API, for tests and benchmarks.

It answers like WeChat (`{"errcode": ..., "errmsg": ...}` JSON) on the endpoints Candor
calls: `cgi-bin/stable_token`, `cgi-bin/message/custom/send`, `cgi-bin/message/template/send`
and `cgi-bin/message/template/subscribe`. Every call is recorded. Error codes can be
scripted per endpoint kind and openid (`POST /_control/script {"kind": "custom", "openid":
"o1", "errcodes": [45015]}`), and `POST /_control/revoke_token` invalidates the current
access_token the way another fetch would, so the next call gets 40001. Run it alone with
`python -m candor.devtools.fake_wechat --port 8901`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from candor.devtools.serve import fake_server_arguments, serve_fake

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40125: "invalid appsecret",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
}
KINDS = {
    "/cgi-bin/message/custom/send": "custom",
    "/cgi-bin/message/template/send": "template",
    "/cgi-bin/message/template/subscribe": "subscribe",
}


@dataclass
class FakeWeChatState:
    app_id: str = "wx-fake-app"
    secret: str = "fake-secret"  # noqa: S105 - a test double's credential
    token: str | None = None
    token_fetches: int = 0
    forced_refreshes: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    scripts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    latency: float = 0.0

    def sent(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Messages WeChat accepted (errcode 0), optionally of one kind."""
        return [
            call
            for call in self.calls
            if call["errcode"] == 0 and (kind is None or call["kind"] == kind)
        ]

    def _new_token(self) -> str:
        self.token = f"fake-token-{next(self.ids)}"
        return self.token


def create_fake_wechat_app(state: FakeWeChatState | None = None) -> Starlette:
    state = state or FakeWeChatState()

    def answer(errcode: int, **extra: Any) -> JSONResponse:
        return JSONResponse(
            {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "ok" if not errcode else "error")}
            | extra
        )

    async def stable_token(request: Request) -> Response:
        body = await request.json()
        if body.get("appid") != state.app_id:
            return answer(40013)
        if body.get("secret") != state.secret:
            return answer(40125)
        state.token_fetches += 1
        if body.get("force_refresh") or state.token is None:
            state.forced_refreshes += bool(body.get("force_refresh"))
            state._new_token()
        return JSONResponse({"access_token": state.token, "expires_in": 7200})

    async def send(request: Request) -> Response:
        kind = KINDS[request.url.path]
        raw = await request.body()
        payload = json.loads(raw)
        openid = str(payload.get("touser", ""))
        if state.latency:
            await asyncio.sleep(state.latency)
        token = request.query_params.get("access_token")
        script = state.scripts.get((kind, openid))
        if state.token is None or token != state.token:
            errcode = 40001
        elif script:
            errcode = script.pop(0)
        else:
            errcode = 0
        msgid = next(state.ids) if errcode == 0 and kind != "custom" else None
        state.calls.append(
            {
                "kind": kind,
                "touser": openid,
                "payload": payload,
                "raw": raw.decode(),
                "errcode": errcode,
                "msgid": msgid,
            }
        )
        return answer(errcode, msgid=msgid) if msgid is not None else answer(errcode)

    async def script(request: Request) -> Response:
        body = await request.json()
        state.scripts[(str(body["kind"]), str(body["openid"]))] = [
            int(code) for code in body["errcodes"]
        ]
        return JSONResponse({"ok": True})

    async def revoke_token(_request: Request) -> Response:
        state.token = f"revoked-elsewhere-{next(state.ids)}"
        return JSONResponse({"ok": True})

    async def calls(_request: Request) -> Response:
        return JSONResponse(
            {"token_fetches": state.token_fetches, "calls": state.calls},
        )

    app = Starlette(
        routes=[
            Route("/cgi-bin/stable_token", stable_token, methods=["POST"]),
            *(Route(path, send, methods=["POST"]) for path in KINDS),
            Route("/_control/script", script, methods=["POST"]),
            Route("/_control/revoke_token", revoke_token, methods=["POST"]),
            Route("/_control/calls", calls),
        ]
    )
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8901)
    parser.add_argument("--app-id", default="wx-fake-app")
    parser.add_argument("--secret", default="fake-secret")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    state = FakeWeChatState(app_id=args.app_id, secret=args.secret, latency=args.latency_ms / 1000)
    serve_fake(create_fake_wechat_app(state), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
