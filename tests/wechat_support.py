"""WeChat test support: a running fake WeChat API, settings that turn WeChat on, and a
signer that builds callbacks the way WeChat's servers do (plaintext, compatible, safe)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from pydantic import SecretStr
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]

from bot.gateway import message_recorded
from candor.chat.messages import InboundMessage, Reply
from candor.devtools.fake_wechat import FakeWeChatState, create_fake_wechat_app
from candor.runtime import Runtime
from candor.settings import Settings, WeChatMessageMode
from tests.fakes import serving

TOKEN = "candor-test-token"
APP_ID = "wx-fake-app"
APP_SECRET = "fake-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PREVIOUS_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
ACCOUNT = "gh_candor_test"


@dataclass(frozen=True, slots=True)
class RunningFakeWeChat:
    url: str
    state: FakeWeChatState


@asynccontextmanager
async def running_fake_wechat() -> AsyncIterator[RunningFakeWeChat]:
    state = FakeWeChatState(app_id=APP_ID, secret=APP_SECRET)
    async with serving(create_fake_wechat_app(state)) as origin:
        yield RunningFakeWeChat(url=f"{origin}", state=state)


def wechat_settings(
    base: Settings,
    api_base: str,
    *,
    aes_key: str | None = None,
    previous_aes_key: str | None = None,
    budget: float = 3.5,
    mode: str | None = None,
) -> Settings:
    return base.model_copy(
        update={
            "wechat_token": TOKEN,
            "wechat_app_id": APP_ID,
            "wechat_app_secret": SecretStr(APP_SECRET),
            "wechat_aes_key": SecretStr(aes_key) if aes_key else None,
            "wechat_previous_aes_key": SecretStr(previous_aes_key) if previous_aes_key else None,
            "wechat_message_mode": WeChatMessageMode(mode) if mode else None,
            "wechat_api_base": api_base,
            "wechat_reply_budget_seconds": budget,
        }
    )


def with_settings(runtime: Runtime, settings: Settings) -> Runtime:
    return dataclasses.replace(runtime, settings=settings)


def text_xml(openid: str, content: str, msg_id: int, *, created: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str | None = None, *, created: int = 0) -> str:
    event_key = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"{event_key}</xml>"
    )


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's


@dataclass(frozen=True, slots=True)
class SignedCallback:
    url: str
    body: bytes


class WeChatSigner:
    """Builds callbacks as WeChat sends them: `mode` is plaintext, compatible or safe."""

    def __init__(self, *, mode: str = "plaintext", aes_key: str = AES_KEY) -> None:
        self.mode = mode
        self._crypto = WeChatCrypto(TOKEN, aes_key, APP_ID) if mode != "plaintext" else None

    def callback(
        self, xml: str, *, timestamp: int | None = None, nonce: str | None = None
    ) -> SignedCallback:
        ts = str(timestamp or int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**9))
        query = {"signature": _sha1(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        query["openid"] = "ignored-by-candor"
        if self._crypto is None:
            return SignedCallback(f"/wechat/callback?{urlencode(query)}", xml.encode())
        sealed = self._crypto.encrypt_message(xml, nonce, ts)
        encrypted = sealed.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        query |= {"encrypt_type": "aes", "msg_signature": _sha1(TOKEN, ts, nonce, encrypted)}
        if self.mode == "compatible":  # plaintext fields and the ciphertext side by side
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        else:
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            )
        return SignedCallback(f"/wechat/callback?{urlencode(query)}", body.encode())

    def open_reply(self, xml: str) -> str:
        """Decrypt a passive reply the way WeChat would (checking its signature)."""
        assert self._crypto is not None
        root = SafeET.fromstring(xml)
        opened: str = self._crypto.decrypt_message(
            xml, root.findtext("MsgSignature"), root.findtext("TimeStamp"), root.findtext("Nonce")
        )
        return opened


class EchoGateway:
    """A gateway for tests: answers "echo: <text>", optionally slowly or failing its first
    `failures` calls, and keeps what it was given. It says the message is recorded as soon
    as it gets it (a first transaction that commits at once), unless `records` is False (a
    gateway stuck before its first commit)."""

    def __init__(self, *, delay: float = 0.0, failures: int = 0, records: bool = True) -> None:
        self.delay = delay
        self.failures = failures
        self.records = records
        self.received: list[InboundMessage] = []

    async def handle(self, message: InboundMessage) -> list[Reply]:
        self.received.append(message)
        if self.records:
            message_recorded()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the conversation broke")
        if message.text is None:
            return [Reply(f"event: {message.event} {message.event_key or ''}".strip())]
        return [Reply(f"echo: {message.text}")]
