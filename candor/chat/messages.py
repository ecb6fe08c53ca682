"""The chat's value types, owned by the domain: one message a candidate sent on any channel
(`InboundMessage`), and what Candor answers (`Reply`, with its `Button`s).

Channel adapters in `bot/` build an `InboundMessage` from their provider's request and
render each `Reply` in their channel's own form (passive XML reply, Bot API call, web-chat
JSON); the domain reads and writes only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from candor.models.enums import Channel

# The longest text a candidate's message may have on any channel: the web chat refuses more
# (its page keeps the visitor's text), channels that cannot be refused keep the first part.
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: Channel
    external_user_id: str  # WeChat openid, Telegram chat id, web-chat session id
    received_at: datetime
    text: str | None = None
    # Channel events that matter to the conversation: "subscribe", "scan" (WeChat QR codes),
    # "start" (Telegram /start), "button" (an inline-keyboard answer), "unsubscribe".
    event: str | None = None
    event_key: str | None = None  # QR scene string, /start payload, button payload
    provider_message_id: str | None = None
    # Where the web chat's request came from (as a trusted proxy vouches for it), for rate
    # limits. None on WeChat and Telegram, whose requests all come from the provider.
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
