"""WeChat callback XML in, `InboundMessage` out; `Reply` in, passive-reply XML out.

Callback bodies are parsed only after defusedxml has refused any DOCTYPE, entity or
external reference, so XXE and entity expansion ("billion laughs") never reach wechatpy's
parser (xmltodict on expat, which would expand internal entities).
"""

from __future__ import annotations

import xml.etree.ElementTree as StdET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException
from wechatpy.messages import MESSAGE_TYPES  # type: ignore[import-untyped]
from wechatpy.parser import parse_message  # type: ignore[import-untyped]
from wechatpy.replies import TextReply  # type: ignore[import-untyped]

from bot.channels.wechat.envelope import MalformedRequestError, UnsupportedMessageError
from candor.chat.messages import InboundMessage, Reply
from candor.models.enums import Channel

KNOWN_MESSAGE_TYPES = frozenset(MESSAGE_TYPES) | {"event"}
# Events that are the user's own action, and so open WeChat's 48-hour window for
# customer-service messages; receipts such as TEMPLATESENDJOBFINISH do not.
USER_EVENTS = frozenset({"subscribe", "subscribe_scan", "scan", "click", "view", "location"})
MAX_FIELD_LENGTH = 8192
_LINK_UNSAFE = str.maketrans("", "", '"<>&?=#')


def safe_xml(body: bytes | str) -> StdET.Element:
    """The parsed root `<xml>` element; DTDs, entities and malformed XML are refused."""
    try:
        root: StdET.Element = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException:
        raise MalformedRequestError("DOCTYPE and entities are not accepted") from None
    except (StdET.ParseError, ValueError):
        raise MalformedRequestError("the body is not well-formed XML") from None
    if root.tag != "xml":
        raise MalformedRequestError("the root element must be <xml>")
    return root


def encrypted_part(root: StdET.Element) -> str:
    encrypted = root.findtext("Encrypt")
    if not encrypted:
        raise MalformedRequestError("an encrypted callback needs an <Encrypt> element")
    return encrypted


@dataclass(frozen=True, slots=True)
class ParsedCallback:
    openid: str
    account: str  # our account's original id (ToUserName), the sender of a passive reply
    created_at: int
    dedupe_key: str
    opens_window: bool
    # None when nothing is for the conversation (an image, a template receipt, a menu view).
    message: InboundMessage | None


def parse_callback(xml: str, *, received_at: datetime | None = None) -> ParsedCallback:
    """Parse a (decrypted) callback body; the caller has checked its signature."""
    root = safe_xml(xml)
    msg_type = (root.findtext("MsgType") or "").strip().lower()
    if not msg_type:
        raise MalformedRequestError("MsgType is missing")
    if msg_type not in KNOWN_MESSAGE_TYPES:
        raise UnsupportedMessageError(f"unknown MsgType {msg_type[:40]!r}")
    try:
        parsed: Any = parse_message(xml)
        openid = _required(parsed, "FromUserName")
        account = _required(parsed, "ToUserName")
        created_at = int(_required(parsed, "CreateTime"))
    except (KeyError, ValueError, TypeError):
        raise MalformedRequestError("FromUserName, ToUserName and CreateTime needed") from None
    received = received_at or datetime.now(UTC)
    raw: dict[str, Any] = parsed._data
    if msg_type == "event":
        event = str(parsed.event).lower()
        dedupe_key = f"event:{openid}:{created_at}:{event}"
        inbound = _event_message(event, openid, raw, received)
        return ParsedCallback(
            openid, account, created_at, dedupe_key, event in USER_EVENTS, inbound
        )
    msg_id = str(raw.get("MsgId") or "").strip()
    dedupe_key = f"msg:{msg_id}" if msg_id else f"msg:{openid}:{created_at}"
    inbound = None
    if msg_type == "text":
        content = str(raw.get("Content") or "")
        if len(content) > MAX_FIELD_LENGTH:
            raise MalformedRequestError("Content is too long")
        inbound = InboundMessage(
            channel=Channel.WECHAT,
            external_user_id=openid,
            received_at=received,
            text=content,
            provider_message_id=msg_id or None,
        )
    return ParsedCallback(openid, account, created_at, dedupe_key, True, inbound)


def _required(parsed: Any, name: str) -> str:
    value = parsed._data[name]
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise ValueError(name)
    return value.strip()


def _event_message(
    event: str, openid: str, raw: dict[str, Any], received: datetime
) -> InboundMessage | None:
    # wechatpy reports a follow through a parametric QR code as "subscribe_scan" with the
    # "qrscene_" prefix already removed from EventKey; a plain follow has no scene.
    names = {"subscribe": "subscribe", "subscribe_scan": "subscribe", "scan": "scan"}
    if event == "unsubscribe":
        return InboundMessage(
            channel=Channel.WECHAT, external_user_id=openid, received_at=received, event=event
        )
    if event not in names:
        return None
    key = str(raw.get("EventKey") or "").strip()
    key = key.removeprefix("qrscene_")
    if len(key) > MAX_FIELD_LENGTH:
        raise MalformedRequestError("EventKey is too long")
    return InboundMessage(
        channel=Channel.WECHAT,
        external_user_id=openid,
        received_at=received,
        event=names[event],
        event_key=key or None,
    )


def reply_text(replies: Sequence[Reply]) -> str:
    """Replies as one WeChat text: a passive reply carries a single message.

    Buttons become a numbered list of `weixin://bizmsgmenu` links: tapping one sends its
    title back as the user's text message, and the gateway takes the title (or the number,
    typed) as that button's payload (`candor.chat.buttons`).
    """
    parts = []
    for number, reply in enumerate(replies, start=1):
        lines = [reply.text]
        for index, button in enumerate(reply.buttons, start=1):
            title = button.title.translate(_LINK_UNSAFE)
            # Numbered, so that a typed digit answers too (candor.chat.buttons).
            lines.append(
                f'{index}. <a href="weixin://bizmsgmenu?msgmenucontent={title}'
                f'&msgmenuid={number}{index}">{title}</a>'
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_passive_reply(*, openid: str, account: str, text: str, now: int) -> str:
    # A "]]>" inside the text would end the CDATA section early; split it across two.
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    xml: str = TextReply(source=account, target=openid, content=safe, time=now).render()
    return xml
