"""The seam between chat channels and the conversation.

Every channel adapter (WeChat callback, Telegram webhook, web chat) authenticates, parses and
de-duplicates its provider's request, turns it into an `InboundMessage`, and hands it to a
`Gateway`. The gateway owns everything channel-independent: finding the chat identity,
binding, opt-out, recording the transcript, and asking the dialogue engine for an answer. The
adapter renders the returned `Reply` objects in its channel's own form (passive XML reply,
Bot API call, web-chat JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from candor.models.enums import Channel


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


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)


class Gateway(Protocol):
    async def handle(self, message: InboundMessage) -> list[Reply]: ...
