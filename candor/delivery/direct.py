"""Messages to one candidate outside the result outbox (`chat_deliveries`): chat messages
people wrote (HR's replies, approved job answers) and one-time binding codes by e-mail.

The service that decides such a message writes its row in the same transaction
(`queue_direct`); this queue claims due rows with a short lease, the delivery loop sends
them, and the outcome is recorded row by row. A lease (the row's `next_attempt_at` pushed
ahead at claim time, committed before sending) keeps two workers from sending one row; a
worker that dies mid-send leaves the row to be claimed again after the lease, so delivery is
at least once, like the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor import metrics
from candor.clock import utcnow
from candor.delivery.loop import Sending, run_round
from candor.delivery.ports import ChannelSender, Delivery, RetryAfter, SendResult, Sent
from candor.logging import get_logger
from candor.models import ChatDelivery
from candor.models.dialogue import ChatDeliveryState
from candor.models.enums import Channel, Locale
from candor.runtime import Runtime

log = get_logger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


def queue_direct(
    session: AsyncSession,
    *,
    channel: Channel,
    recipient: str,
    body: str,
    locale: Locale,
    subject: str = "",
    chat_message_id: int | None = None,
    now: datetime,
) -> ChatDelivery:
    """Write a message for the delivery loop; it is sent once this transaction commits."""
    row = ChatDelivery(
        chat_message_id=chat_message_id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        locale=locale,
        state=ChatDeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True, slots=True)
class ClaimedDirect:
    delivery_id: int
    attempts: int
    delivery: Delivery


class DirectQueue:
    """`chat_deliveries` as a queue of the delivery loop."""

    name = "direct"

    def __init__(self, runtime: Runtime, *, batch_size: int = 50) -> None:
        self.runtime = runtime
        self.batch_size = batch_size

    async def claim_due(self) -> list[ClaimedDirect]:
        now = utcnow()
        async with self.runtime.transaction() as session:
            query = (
                select(ChatDelivery)
                .where(
                    ChatDelivery.state == ChatDeliveryState.PENDING,
                    ChatDelivery.next_attempt_at <= now,
                )
                .order_by(ChatDelivery.next_attempt_at, ChatDelivery.id)
                .limit(self.batch_size)
            )
            if not self.runtime.settings.uses_sqlite:
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for row in (await session.scalars(query)).all():
                row.attempts += 1
                row.next_attempt_at = now + LEASE
                claimed.append(
                    ClaimedDirect(
                        delivery_id=row.id,
                        attempts=row.attempts,
                        delivery=Delivery(
                            idempotency_key=f"chat:{row.id}",
                            channel=row.channel,
                            recipient=row.recipient,
                            subject=row.subject,
                            body=row.body,
                            locale=row.locale.value,
                        ),
                    )
                )
        return claimed

    async def record_outcomes(self, outcomes: Sequence[tuple[ClaimedDirect, SendResult]]) -> None:
        if not outcomes:
            return
        async with self.runtime.transaction() as session:
            for claimed, outcome in outcomes:
                row = await session.get_one(ChatDelivery, claimed.delivery_id)
                if isinstance(outcome, Sent):
                    row.state, row.sent_at = ChatDeliveryState.SENT, utcnow()
                    row.provider_message_id = outcome.provider_message_id
                elif isinstance(outcome, RetryAfter) and claimed.attempts < MAX_ATTEMPTS:
                    row.next_attempt_at = utcnow() + timedelta(seconds=max(outcome.seconds, 1.0))
                    row.last_error = outcome.reason
                else:
                    row.state = ChatDeliveryState.FAILED
                    row.last_error = outcome.reason
        for claimed, outcome in outcomes:
            channel = claimed.delivery.channel.value
            if isinstance(outcome, Sent):
                metrics.delivered(self.name, channel)
            elif isinstance(outcome, RetryAfter) and claimed.attempts < MAX_ATTEMPTS:
                metrics.retried(self.name, channel, outcome.reason)
            else:
                exhausted = isinstance(outcome, RetryAfter)
                metrics.failed(self.name, channel, outcome.reason, exhausted=exhausted)
            log.info(
                "delivery.direct",
                delivery_id=claimed.delivery_id,
                channel=claimed.delivery.channel.value,
                outcome=type(outcome).__name__,
            )


async def deliver_due(
    runtime: Runtime, senders: Mapping[Channel, ChannelSender], *, limit: int = 50
) -> int:
    """One round of the direct queue with these senders; returns how many rows it handled."""
    sending = Sending(senders, concurrency=runtime.settings.dispatcher_concurrency)
    return await run_round(DirectQueue(runtime, batch_size=limit), sending)
