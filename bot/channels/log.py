"""A development channel: the message is written to the log instead of being sent.

Only the embedded demo uses it, so that approving a draft shows the whole flow on one
machine. Outside development an unconfigured channel is `Permanent` instead, so a message
is never reported sent when it went nowhere.
"""

from __future__ import annotations

import uuid

from candor.delivery.ports import Delivery, Permanent, SendResult, Sent
from candor.logging import get_logger
from candor.models.enums import Channel

log = get_logger(__name__)


class LogChannel:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, delivery: Delivery) -> SendResult:
        provider_id = f"log-{uuid.uuid4().hex[:12]}"
        log.info(
            "channel.log_delivery",
            channel=self.channel.value,
            recipient=delivery.recipient,
            subject=delivery.subject,
            body=delivery.body,
            provider_message_id=provider_id,
        )
        return Sent(provider_id)

    async def aclose(self) -> None:
        return None


class UnconfiguredChannel:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, delivery: Delivery) -> SendResult:
        return Permanent(f"channel {self.channel.value} is not configured")

    async def aclose(self) -> None:
        return None
