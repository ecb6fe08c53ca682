"""A local stand-in for the WeCom (企业微信) API and its app's member, for tests and the demo.

It answers like WeCom (`{"errcode": ..., "errmsg": ...}` JSON) on the endpoints Candor
calls: `cgi-bin/gettoken`, `cgi-bin/message/send` (a `template_card` gets a
`response_code`, as WeCom gives for button-interaction cards) and
`cgi-bin/message/update_template_card`. Every call is recorded (`GET /_control/calls`).

It also plays an HR user in the WeCom app: `POST /_control/text {"userid", "content"}` and
`POST /_control/click {"userid", "task_id", "key"}` post the callback WeCom would to
`callback_url` (encrypted and signed with wechatpy's `WeChatCrypto`, a fresh nonce each),
and answer with Candor's HTTP status and its decrypted passive reply. Run it alone with
`python -m candor.devtools.fake_wecom --port 8903 --callback-url http://127.0.0.1:8000/wecom/callback`.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]

from candor.devtools.serve import fake_server_arguments, serve_fake

# Fixed demo/test credentials (a 43-character EncodingAESKey, as WeCom generates).
CORP_ID = "ww-fake-corp"
AGENT_ID = 1000002
SECRET = "fake-wecom-secret"  # noqa: S105 - a test double's credential
TOKEN = "fake-wecom-token"  # noqa: S105
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class FakeWeComState:
    corp_id: str = CORP_ID
    secret: str = SECRET
    token: str = TOKEN
    aes_key: str = AES_KEY
    agent_id: int = AGENT_ID
    callback_url: str | None = None
    access_token: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.corp_id)

    def cards(self, userid: str | None = None) -> list[dict[str, Any]]:
        """The template cards sent (to `userid`), oldest first."""
        return [
            call["payload"]
            for call in self.calls
            if call["kind"] == "send"
            and call["payload"].get("msgtype") == "template_card"
            and (userid is None or call["payload"].get("touser") == userid)
        ]

    def updates(self) -> list[dict[str, Any]]:
        return [call["payload"] for call in self.calls if call["kind"] == "update"]


def text_xml(corp_id: str, agent_id: int, userid: str, content: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{escape(userid)}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{secrets.randbelow(10**12)}</MsgId>"
        f"<AgentID>{agent_id}</AgentID></xml>"
    )


def click_xml(corp_id: str, agent_id: int, userid: str, task_id: str, key: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{escape(userid)}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{escape(key)}]]></EventKey>"
        f"<TaskId><![CDATA[{escape(task_id)}]]></TaskId>"
        f"<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[cb-{secrets.token_hex(8)}]]></ResponseCode>"
        f"<AgentID>{agent_id}</AgentID></xml>"
    )


def seal(crypto: WeChatCrypto, inner_xml: str) -> tuple[dict[str, str], bytes]:
    """The query and body of a callback carrying `inner_xml`, as WeCom posts it."""
    nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
    sealed = crypto.encrypt_message(inner_xml, nonce, timestamp)
    from xml.etree import ElementTree as ET

    root = ET.fromstring(sealed)  # noqa: S314 - parsing what wechatpy just wrote
    query = {
        "msg_signature": root.findtext("MsgSignature") or "",
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = f"<xml><Encrypt><![CDATA[{root.findtext('Encrypt')}]]></Encrypt></xml>".encode()
    return query, body


def open_reply(crypto: WeChatCrypto, reply: bytes | str) -> str:
    """The text of Candor's encrypted passive reply."""
    from xml.etree import ElementTree as ET

    root = ET.fromstring(reply)  # noqa: S314 - Candor's reply in a test
    xml = crypto.decrypt_message(
        {"Encrypt": root.findtext("Encrypt")},
        root.findtext("MsgSignature"),
        root.findtext("TimeStamp"),
        root.findtext("Nonce"),
    )
    return ET.fromstring(xml).findtext("Content") or ""  # noqa: S314


def create_fake_wecom_app(state: FakeWeComState | None = None) -> Starlette:
    state = state or FakeWeComState()

    def answer(errcode: int, **extra: Any) -> JSONResponse:
        return JSONResponse(
            {"errcode": errcode, "errmsg": "ok" if not errcode else "error"} | extra
        )

    async def gettoken(request: Request) -> Response:
        if request.query_params.get("corpid") != state.corp_id:
            return answer(40013)
        if request.query_params.get("corpsecret") != state.secret:
            return answer(40001)
        state.access_token = f"fake-wecom-token-{next(state.ids)}"
        return answer(0, access_token=state.access_token, expires_in=7200)

    def authorised(request: Request) -> bool:
        token = request.query_params.get("access_token")
        return state.access_token is not None and token == state.access_token

    async def send(request: Request) -> Response:
        if not authorised(request):
            return answer(40014)
        payload = json.loads(await request.body())
        if payload.get("agentid") != state.agent_id:
            return answer(40056)
        extra: dict[str, Any] = {"msgid": f"msg-{next(state.ids)}"}
        if payload.get("msgtype") == "template_card":
            extra["response_code"] = f"rc-{secrets.token_hex(8)}"
        state.calls.append({"kind": "send", "payload": payload, **extra})
        return answer(0, invaliduser="", **extra)

    async def update(request: Request) -> Response:
        if not authorised(request):
            return answer(40014)
        payload = json.loads(await request.body())
        state.calls.append({"kind": "update", "payload": payload})
        return answer(0, invaliduser=[])

    async def post_callback(inner_xml: str) -> Response:
        if state.callback_url is None:
            return JSONResponse({"error": "no callback_url"}, status_code=409)
        query, body = seal(state.crypto, inner_xml)
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(f"{state.callback_url}?{urlencode(query)}", content=body)
        reply = ""
        if response.status_code == 200 and response.content.strip():
            reply = open_reply(state.crypto, response.content)
        return JSONResponse({"status": response.status_code, "reply": reply})

    async def member_text(request: Request) -> Response:
        body = await request.json()
        return await post_callback(
            text_xml(state.corp_id, state.agent_id, str(body["userid"]), str(body["content"]))
        )

    async def member_click(request: Request) -> Response:
        body = await request.json()
        return await post_callback(
            click_xml(
                state.corp_id,
                state.agent_id,
                str(body["userid"]),
                str(body["task_id"]),
                str(body["key"]),
            )
        )

    async def calls(_request: Request) -> Response:
        return JSONResponse({"calls": state.calls})

    app = Starlette(
        routes=[
            Route("/cgi-bin/gettoken", gettoken),
            Route("/cgi-bin/message/send", send, methods=["POST"]),
            Route("/cgi-bin/message/update_template_card", update, methods=["POST"]),
            Route("/_control/text", member_text, methods=["POST"]),
            Route("/_control/click", member_click, methods=["POST"]),
            Route("/_control/calls", calls),
        ]
    )
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8903)
    parser.add_argument("--callback-url", default="http://127.0.0.1:8000/wecom/callback")
    args = parser.parse_args()
    state = FakeWeComState(callback_url=args.callback_url)
    serve_fake(create_fake_wecom_app(state), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
