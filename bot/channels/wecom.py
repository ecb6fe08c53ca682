"""WeCom (企业微信): approval cards for HR users, and the app's encrypted callback.

Cards go out as app messages of msgtype `template_card`, card_type `button_interaction`,
through wechatpy's WeCom client (`wechatpy.enterprise.WeChatClient`, whose `message.send`
takes any msgtype; wechatpy 1.8.18 has no call for update_template_card, so it is posted
through the same client). The client is synchronous (requests): each call runs in a thread.

Callbacks (`POST /wecom/callback`) are always encrypted by WeCom: `msg_signature` over the
ciphertext is checked and the message decrypted with `wechatpy.enterprise.crypto.WeChatCrypto`;
the timestamp must be within 5 minutes and a (timestamp, nonce) is accepted once.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from redis.asyncio import Redis
from wechatpy.enterprise import WeChatClient  # type: ignore[import-untyped]
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.exceptions import (  # type: ignore[import-untyped]
    APILimitedException,
    InvalidSignatureException,
    WeChatClientException,
    WeChatException,
)

from bot.channels.wechat.envelope import (
    BadSignatureError,
    MalformedRequestError,
    ReplayedNonceError,
    check_fresh,
)
from bot.channels.wechat.messages import safe_xml
from candor.delivery.ports import Permanent, RetryAfter, SendResult, Sent
from candor.hr_chat.ports import Card
from candor.logging import get_logger
from candor.models.enums import HrChatPlatform
from candor.settings import Settings

log = get_logger(__name__)

NONCE_TTL_SECONDS = 600
# WeCom's "system busy" and the HTTP-level failures wechatpy reports without an errcode.
TRANSIENT = {-1, None}


class _Client(WeChatClient):  # type: ignore[misc]
    """wechatpy's WeCom client with its base URL (and token URL) configurable."""

    def __init__(self, base_url: str, corp_id: str, secret: str, timeout: float) -> None:
        self.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"
        super().__init__(corp_id, secret, timeout=timeout)

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )


def card_payload(card: Card) -> dict[str, Any]:
    """The `template_card` of a button-interaction card."""
    body: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": card.title[:36], "desc": (card.status or "")[:44]},
        "sub_title_text": card.description,
        "horizontal_content_list": [
            {"keyname": label[:5], "value": value[:30]} for label, value in card.fields
        ],
        "card_action": {"type": 1, "url": card.url},
        "task_id": card.token,
        "button_list": [
            *(
                {"text": label, "style": 1 if action == "approve" else 2, "key": action}
                for action, label in card.buttons
            ),
            {"text": card.open_label, "style": 3, "type": 1, "url": card.url},
        ],
    }
    return body


class WeComCards:
    """The `CardSender` for WeCom."""

    platform = HrChatPlatform.WECOM

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        if not (settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id):
            raise ValueError("WeCom needs its corp id, agent id and secret")
        self.agent_id = settings.wecom_agent_id
        self.client = _Client(
            settings.wecom_api_base_url,
            settings.wecom_corp_id,
            settings.wecom_secret.get_secret_value(),
            timeout,
        )

    async def send_card(self, to: str, card: Card) -> SendResult:
        msg = {"msgtype": "template_card", "template_card": card_payload(card)}
        result = await self._call(lambda: self.client.message.send(self.agent_id, [to], msg=msg))
        if isinstance(result, dict):
            return Sent(provider_message_id=str(result.get("response_code") or "") or None)
        return result

    async def update_card(self, to: str, ref: str, card: Card) -> SendResult:
        if not ref:
            return Permanent("no response_code to update the card with")
        data = {
            "userids": [to],
            "agentid": self.agent_id,
            "response_code": ref,
            "button": {"replace_name": (card.status or "")[:20]},
        }
        result = await self._call(
            lambda: self.client.post("message/update_template_card", data=data)
        )
        return Sent() if isinstance(result, dict) else result

    async def send_text(self, to: str, content: str) -> SendResult:
        msg = {"msgtype": "text", "text": {"content": content}}
        result = await self._call(lambda: self.client.message.send(self.agent_id, [to], msg=msg))
        return Sent() if isinstance(result, dict) else result

    async def _call(self, call: Any) -> dict[str, Any] | SendResult:
        try:
            result: dict[str, Any] = await asyncio.to_thread(call)
        except APILimitedException as exc:
            return RetryAfter(60.0, f"wecom rate limit ({exc.errcode})")
        except WeChatClientException as exc:
            if exc.errcode in TRANSIENT:
                return RetryAfter(10.0, f"wecom unavailable ({exc.errcode})")
            return Permanent(f"wecom refused ({exc.errcode}: {exc.errmsg})")
        except OSError as exc:
            return RetryAfter(10.0, f"wecom unreachable ({type(exc).__name__})")
        return result

    async def aclose(self) -> None:
        self.client._http.close()


def _nonce_key(timestamp: str, nonce: str) -> str:
    return f"wecom:nonce:{timestamp}:{nonce}"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One decrypted callback: a text from `user`, or a click on the card `task_id`."""

    user: str
    kind: str  # "text", "click", "other"
    content: str = ""
    task_id: str = ""
    key: str = ""


class WeComCallback:
    """Verifying, decrypting and parsing WeCom's callbacks, and sealing passive replies."""

    def __init__(self, settings: Settings, redis: Redis) -> None:
        if not (
            settings.wecom_token and settings.wecom_encoding_aes_key and settings.wecom_corp_id
        ):
            raise ValueError("WeCom callbacks need the corp id, token and EncodingAESKey")
        self.corp_id = settings.wecom_corp_id
        self.crypto = WeChatCrypto(
            settings.wecom_token.get_secret_value(),
            settings.wecom_encoding_aes_key.get_secret_value(),
            settings.wecom_corp_id,
        )
        self.redis = redis

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        check_fresh(timestamp, now=time.time())
        try:
            echo: str = self.crypto.check_signature(msg_signature, timestamp, nonce, echostr)
        except InvalidSignatureException:
            raise BadSignatureError("msg_signature does not match") from None
        except (WeChatException, ValueError, IndexError, struct.error):
            raise MalformedRequestError("echostr does not decrypt") from None
        return echo

    async def open(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> Inbound:
        check_fresh(timestamp, now=time.time())
        root = safe_xml(body)
        encrypted = root.findtext("Encrypt")
        if not encrypted:
            raise MalformedRequestError("WeCom callbacks are encrypted: <Encrypt> is missing")
        try:
            xml = self.crypto.decrypt_message(
                {"Encrypt": encrypted}, msg_signature, timestamp, nonce
            )
        except InvalidSignatureException:
            raise BadSignatureError("msg_signature does not match") from None
        except (WeChatException, ValueError, IndexError, struct.error):
            raise MalformedRequestError("the message does not decrypt") from None
        # Only an authentic callback uses up its nonce: a forged one cannot block it.
        if not await self.redis.set(
            _nonce_key(timestamp, nonce), "1", nx=True, ex=NONCE_TTL_SECONDS
        ):
            raise ReplayedNonceError("this callback was already received")
        message = safe_xml(str(xml))
        user = message.findtext("FromUserName") or ""
        msg_type = (message.findtext("MsgType") or "").lower()
        if not user:
            raise MalformedRequestError("FromUserName is missing")
        if msg_type == "text":
            return Inbound(user, "text", content=message.findtext("Content") or "")
        if msg_type == "event" and (message.findtext("Event") or "") == "template_card_event":
            return Inbound(
                user,
                "click",
                task_id=message.findtext("TaskId") or "",
                key=message.findtext("EventKey") or "",
            )
        return Inbound(user, "other")

    async def release(self, timestamp: str, nonce: str) -> None:
        """Forget a nonce whose callback could not be handled, so WeCom's retry is."""
        await self.redis.delete(_nonce_key(timestamp, nonce))

    def reply_text(self, to: str, content: str, *, nonce: str, timestamp: str) -> str:
        """A passive reply, encrypted as WeCom expects."""
        xml = (
            f"<xml><ToUserName><![CDATA[{escape(to)}]]></ToUserName>"
            f"<FromUserName><![CDATA[{escape(self.corp_id)}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content.replace(']]>', ']] >')}]]></Content></xml>"
        )
        sealed: str = self.crypto.encrypt_message(xml, nonce, timestamp)
        return sealed
