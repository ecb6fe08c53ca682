"""The domain's port to every channel: what a delivery is, and the one interface each sender
in `bot/channels/` implements (`send(delivery) -> Sent | RetryAfter | Permanent`).

A channel classifies each outcome so the dispatcher can act without knowing the channel:
- `Sent`: the provider accepted the message (its id is kept to match delivery receipts);
- `RetryAfter`: a passing problem (rate limit, timeout, 5xx); try the same channel later;
- `Permanent`: this channel will not take this message (not following, window closed,
  opted out, not configured); the dispatcher moves on to the candidate's next channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from candor.chat.messages import Button
from candor.models.enums import Channel


@dataclass(frozen=True, slots=True)
class Delivery:
    idempotency_key: str
    channel: Channel
    recipient: str
    subject: str
    body: str
    locale: str
    wechat_data: dict[str, str] = field(default_factory=dict)
    # The WeChat template (MessageTemplate.wechat_template_id) for `wechat_data`, used when the
    # recipient's 48-hour customer-service window is closed.
    wechat_template_id: str | None = None
    # SMS providers send only pre-approved templates: the provider's template code and its
    # parameters (MessageTemplate's SMS form, rendered for this message).
    sms_template_code: str | None = None
    sms_params: dict[str, str] = field(default_factory=dict)
    # Added at delivery time to an approved text (candor.scheduling.invitations): buttons
    # where the channel has them (Telegram's inline keyboard, the web chat), and the link a
    # WeChat template message opens when tapped.
    buttons: tuple[Button, ...] = ()
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryAfter:
    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class Permanent:
    reason: str


SendResult = Sent | RetryAfter | Permanent


class ChannelSender(Protocol):
    channel: Channel

    async def send(self, delivery: Delivery) -> SendResult: ...

    async def aclose(self) -> None: ...


async def close_senders(senders: Mapping[Channel, ChannelSender]) -> None:
    """Close each sender once (one may serve several channels)."""
    closed: set[int] = set()
    for sender in senders.values():
        if id(sender) not in closed:
            await sender.aclose()
            closed.add(id(sender))
