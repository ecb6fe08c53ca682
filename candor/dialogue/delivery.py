"""Sending the chat messages people wrote (HR's replies, approved job answers) once their
transaction has committed: the worker claims due `chat_deliveries` rows with a short lease,
sends them on the conversation's channel, and records the outcome.

A lease (the row's `next_attempt_at` pushed ahead at claim time, committed before sending)
keeps two workers from sending one row; a worker that dies mid-send leaves the row to be
claimed again after the lease, so delivery is at least once, like the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select

from bot.channels.base import ChannelSender, Delivery, Permanent, RetryAfter, Sent
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import ChatDelivery
from candor.models.dialogue import ChatDeliveryState
from candor.models.enums import Channel
from candor.runtime import Runtime

log = get_logger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


async def deliver_due(
    runtime: Runtime, senders: Mapping[Channel, ChannelSender], *, limit: int = 50
) -> int:
    """Send every due delivery (up to `limit`); returns how many were handled."""
    now = utcnow()
    async with runtime.transaction() as session:
        query = (
            select(ChatDelivery)
            .where(
                ChatDelivery.state == ChatDeliveryState.PENDING,
                ChatDelivery.next_attempt_at <= now,
            )
            .order_by(ChatDelivery.next_attempt_at, ChatDelivery.id)
            .limit(limit)
        )
        if not runtime.settings.uses_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list((await session.scalars(query)).all())
        claimed = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + LEASE
            claimed.append(
                (
                    row.id,
                    row.attempts,
                    Delivery(
                        idempotency_key=f"chat:{row.id}",
                        channel=row.channel,
                        recipient=row.recipient,
                        subject="",
                        body=row.body,
                        locale=row.locale.value,
                    ),
                )
            )
    for delivery_id, attempts, delivery in claimed:
        sender = senders.get(delivery.channel)
        outcome = (
            await sender.send(delivery)
            if sender is not None
            else Permanent(f"no sender for {delivery.channel.value}")
        )
        async with runtime.transaction() as session:
            row = await session.get_one(ChatDelivery, delivery_id)
            if isinstance(outcome, Sent):
                row.state, row.sent_at = ChatDeliveryState.SENT, utcnow()
                row.provider_message_id = outcome.provider_message_id
            elif isinstance(outcome, RetryAfter) and attempts < MAX_ATTEMPTS:
                row.next_attempt_at = utcnow() + timedelta(seconds=max(outcome.seconds, 1.0))
                row.last_error = outcome.reason
            else:
                row.state = ChatDeliveryState.FAILED
                row.last_error = getattr(outcome, "reason", "failed")
        log.info(
            "dialogue.chat_delivery",
            delivery_id=delivery_id,
            channel=delivery.channel.value,
            outcome=type(outcome).__name__,
        )
    return len(claimed)
