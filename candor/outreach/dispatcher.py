"""The outbox dispatcher: claim committed deliveries, send them, record what happened.

Claiming is one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of
workers on any number of machines take disjoint rows; SQLite's single writer serialises the
same statement). Sending happens with no transaction open. Recording the result is another
short transaction, guarded by the claim so a worker whose lease expired cannot overwrite the
row that another worker has since taken.

The one window for a duplicate: the provider accepted the message and the worker died before
recording it. The lease then expires with the row still `in_flight`; the next claim marks it
`ambiguous`, logs `outbox.ambiguous_redelivery` and sends again. Nothing is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelSender, Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import Application, Candidate, ChatIdentity
from candor.models.enums import Channel
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.outreach.service import (
    OutreachContext,
    deliverable_channels,
    enqueue_delivery,
    transition,
)
from candor.runtime import Runtime

log = get_logger(__name__)

SYSTEM_DISPATCHER = "system:dispatcher"
MAX_BACKOFF = timedelta(hours=1)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int, *, minimum: float = 0.0, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter, never shorter than the provider asked for."""
    ceiling = min(MAX_BACKOFF.total_seconds(), 2.0 ** max(0, attempts))
    jittered = (rng or random).uniform(0, ceiling)
    return timedelta(seconds=max(minimum, jittered))


@dataclass(frozen=True, slots=True)
class Claimed:
    item_id: int
    ambiguous: bool


@dataclass(slots=True)
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    fell_back: int = 0
    undeliverable: int = 0
    failed: int = 0
    ambiguous: int = 0
    lost_claims: int = 0


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        senders: Mapping[Channel, ChannelSender],
        context: OutreachContext,
        *,
        worker_id: str | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        max_attempts: int | None = None,
        lease: timedelta = timedelta(seconds=60),
        send_timeout: float = 30.0,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.senders = senders
        self.context = context
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size or settings.dispatcher_batch_size
        self.max_attempts = max_attempts or settings.dispatcher_max_attempts
        self.lease = lease
        self.send_timeout = send_timeout
        self._slots = asyncio.Semaphore(concurrency or settings.dispatcher_concurrency)
        self.stats = DispatchStats()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self._deliver_guarded(c) for c in claimed))
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event, *, idle_wait: float = 0.5) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("outbox.dispatch_round_failed", worker=self.worker_id)
                claimed = 0
                await asyncio.sleep(1.0)
            if claimed < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_wait)

    async def claim(self) -> list[Claimed]:
        now = utcnow()
        due = or_(
            and_(OutboxItem.state == OutboxState.PENDING, OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.state == OutboxState.IN_FLIGHT, OutboxItem.lease_until < now),
        )
        candidates = (
            select(OutboxItem.id)
            .where(due)
            .order_by(OutboxItem.next_attempt_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self.runtime.transaction() as session:
            rows = (
                await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(candidates.scalar_subquery()), due)
                    .values(
                        ambiguous=case(
                            (OutboxItem.state == OutboxState.IN_FLIGHT, True),
                            else_=OutboxItem.ambiguous,
                        ),
                        state=OutboxState.IN_FLIGHT,
                        claimed_by=self.worker_id,
                        lease_until=now + self.lease,
                        attempts=OutboxItem.attempts + 1,
                    )
                    .returning(OutboxItem.id, OutboxItem.ambiguous)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        claimed = [Claimed(item_id=row[0], ambiguous=bool(row[1])) for row in rows]
        self.stats.claimed += len(claimed)
        return claimed

    async def _deliver_guarded(self, claimed: Claimed) -> None:
        async with self._slots:
            try:
                await self.deliver(claimed)
            except Exception:
                # The row stays in flight; its lease expires and another round retries it.
                log.exception("outbox.delivery_crashed", item_id=claimed.item_id)

    async def deliver(self, claimed: Claimed) -> None:
        delivery = await self.prepare(claimed)
        if delivery is None:
            return
        if claimed.ambiguous:
            self.stats.ambiguous += 1
            log.warning(
                "outbox.ambiguous_redelivery",
                item_id=claimed.item_id,
                idempotency_key=delivery.idempotency_key,
            )
        sender = self.senders[delivery.channel]
        try:
            result: SendResult = await asyncio.wait_for(
                sender.send(delivery), timeout=self.send_timeout
            )
        except TimeoutError:
            result = RetryAfter(5.0, "send timed out")
        await self.record(claimed.item_id, result)

    async def prepare(self, claimed: Claimed) -> Delivery | None:
        async with self.runtime.transaction() as session:
            item = await session.get_one(OutboxItem, claimed.item_id)
            message = await session.get_one(OutreachMessage, item.message_id)
            application = await session.get_one(Application, message.application_id)
            candidate = await session.get_one(Candidate, application.candidate_id)
            recipient = await _recipient(session, candidate, item.channel)
            if recipient is None:
                # Unbound or opted out since queueing: this channel is no longer an option.
                await self._apply(session, item, Permanent("recipient no longer reachable"))
                return None
            return Delivery(
                idempotency_key=item.idempotency_key,
                channel=item.channel,
                recipient=recipient,
                subject=message.subject,
                body=message.body,
                locale=candidate.locale.value,
                wechat_data=dict(message.wechat_data),
            )

    async def record(self, item_id: int, result: SendResult) -> None:
        async with self.runtime.transaction() as session:
            item = await session.scalar(
                select(OutboxItem).where(OutboxItem.id == item_id).with_for_update()
            )
            if (
                item is None
                or item.state != OutboxState.IN_FLIGHT
                or item.claimed_by != self.worker_id
            ):
                # Our lease ran out and another worker owns the row now; it will record.
                self.stats.lost_claims += 1
                log.warning("outbox.claim_lost", item_id=item_id, worker=self.worker_id)
                return
            await self._apply(session, item, result)

    async def _apply(self, session: AsyncSession, item: OutboxItem, result: SendResult) -> None:
        now = utcnow()
        message = await session.get_one(OutreachMessage, item.message_id, with_for_update=True)
        item.lease_until = None
        match result:
            case Sent(provider_message_id=provider_id):
                item.state = OutboxState.SENT
                item.provider_message_id = provider_id
                item.sent_at = now
                if message.state is MessageState.QUEUED:
                    transition(session, message, MessageState.SENT, actor=SYSTEM_DISPATCHER, at=now)
                    message.channel = item.channel
                    message.sent_at = now
                self.stats.sent += 1
                log.info("outbox.sent", item_id=item.id, channel=item.channel.value)
            case RetryAfter(seconds=seconds, reason=reason) if item.attempts < self.max_attempts:
                item.state = OutboxState.PENDING
                item.last_error = reason
                item.next_attempt_at = self.context.quiet_hours.next_allowed(
                    now + backoff(item.attempts, minimum=seconds)
                )
                self.stats.retried += 1
                log.info("outbox.retry", item_id=item.id, reason=reason, attempts=item.attempts)
            case RetryAfter(reason=reason):
                item.state = OutboxState.EXHAUSTED
                item.last_error = f"gave up after {item.attempts} attempts: {reason}"
                await self._fall_back(session, item, message, now, exhausted=True)
            case Permanent(reason=reason):
                item.state = OutboxState.PERMANENT_FAILURE
                item.last_error = reason
                await self._fall_back(session, item, message, now, exhausted=False)

    async def _fall_back(
        self,
        session: AsyncSession,
        item: OutboxItem,
        message: OutreachMessage,
        now: datetime,
        *,
        exhausted: bool,
    ) -> None:
        application = await session.get_one(Application, message.application_id)
        candidate = await session.get_one(Candidate, application.candidate_id)
        tried = set(
            (
                await session.scalars(
                    select(OutboxItem.channel).where(OutboxItem.message_id == message.id)
                )
            ).all()
        )
        remaining = [c for c in await deliverable_channels(session, candidate) if c not in tried]
        if remaining:
            enqueue_delivery(
                session, message, application, remaining[0], self.context.quiet_hours, now
            )
            self.stats.fell_back += 1
            log.info(
                "outbox.fallback",
                item_id=item.id,
                from_channel=item.channel.value,
                to_channel=remaining[0].value,
                reason=item.last_error,
            )
            return
        if message.state not in (MessageState.QUEUED, MessageState.SENT):
            return
        final = MessageState.FAILED if exhausted else MessageState.UNDELIVERABLE
        transition(
            session,
            message,
            final,
            actor=SYSTEM_DISPATCHER,
            at=now,
            reason=f"no channel left; last error: {item.last_error}",
        )
        if exhausted:
            self.stats.failed += 1
        else:
            self.stats.undeliverable += 1
        # HR sees these in the queue (state filter); notification channels come with issue 4.
        log.warning(
            "outreach.hr_attention_needed",
            message_id=message.id,
            state=final.value,
            reason=item.last_error,
        )


async def _recipient(session: AsyncSession, candidate: Candidate, channel: Channel) -> str | None:
    if channel is Channel.EMAIL:
        return candidate.email
    return await session.scalar(
        select(ChatIdentity.external_user_id).where(
            ChatIdentity.candidate_id == candidate.id,
            ChatIdentity.channel == channel,
            ChatIdentity.bound_at.is_not(None),
        )
    )


async def record_receipt(
    session: AsyncSession, *, provider_message_id: str, delivered: bool, reason: str | None = None
) -> OutreachMessage | None:
    """A channel's delivery receipt (e.g. WeChat TEMPLATESENDJOBFINISH) settles the message."""
    item = await session.scalar(
        select(OutboxItem).where(OutboxItem.provider_message_id == provider_message_id)
    )
    if item is None:
        return None
    message = await session.get_one(OutreachMessage, item.message_id, with_for_update=True)
    if message.state is not MessageState.SENT or message.channel != item.channel:
        return message  # a late or repeated receipt changes nothing
    now = utcnow()
    if delivered:
        transition(
            session, message, MessageState.DELIVERED, actor=f"receipt:{item.channel.value}", at=now
        )
        message.delivered_at = now
    else:
        transition(
            session,
            message,
            MessageState.FAILED,
            actor=f"receipt:{item.channel.value}",
            at=now,
            reason=reason or "the provider reported a failed delivery",
        )
    return message
