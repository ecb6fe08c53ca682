"""The outbox of result messages, as a queue of the one delivery path (`candor.delivery.loop`):
claim committed deliveries, and record what happened when the loop has sent them.

Claiming is one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of
workers on any number of machines take disjoint rows; SQLite's single writer serialises the
same statement). Sending happens with no transaction open. Recording the result is another
short transaction, guarded by the claim so a worker whose lease expired cannot overwrite the
row that another worker has since taken.

The one window for a duplicate: the provider accepted the message and the worker died before
recording it. The lease then expires with the row still `in_flight`; the next claim marks it
`ambiguous`, logs `outbox.ambiguous_redelivery` and sends again. Nothing is ever lost.

Work is done a batch at a time, which is what makes a worker fast: the claim and everything
the senders need (message, candidate, recipient) are read in that one claiming transaction
with two queries, and the whole batch's results are recorded in one transaction (the common
`Sent` case with a handful of set-based statements; retries and fallbacks row by row). When
recording fails (the database restarting), it is retried until shortly before the lease
runs out, so a brief outage does not turn delivered rows into ambiguous redeliveries.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor import metrics
from candor.clock import utcnow
from candor.delivery.loop import UNREACHABLE, Sending, run_round
from candor.delivery.ports import ChannelSender, Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.delivery.sms_numbers import mobile_or_none
from candor.logging import get_logger
from candor.models import Application, Candidate, ChatIdentity
from candor.models.enums import Channel, Decision
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    MessageTransition,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.models.scheduling import InvitationState, SchedulingInvitation
from candor.models.webhooks import WebhookEventType
from candor.outreach.hr_notices import notify_undeliverable
from candor.outreach.service import (
    TRANSITIONS,
    OutreachContext,
    QuietHours,
    deliverable_channels,
    enqueue_delivery,
    transition,
)
from candor.runtime import Runtime
from candor.scheduling.invitations import add_invitation
from candor.webhooks.events import record_message_events

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


@dataclass(frozen=True, slots=True)
class Prepared:
    claimed: Claimed
    delivery: Delivery | None  # None: the recipient is no longer reachable on this channel
    # Until when recording may be retried (monotonic clock): shortly before the lease ends.
    record_deadline: float


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
    record_retries: int = 0


class Dispatcher:
    """The outbox's `DeliveryQueue`; `run_once` is one round of it on its own."""

    name = "outbox"

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
        self.sending = Sending(
            senders,
            concurrency=concurrency or settings.dispatcher_concurrency,
            timeout=send_timeout,
        )
        self.stats = DispatchStats()

    async def run_once(self) -> int:
        """Claim one batch, deliver it and record the results; returns how many rows were
        claimed."""
        return await run_round(self, self.sending)

    async def claim_due(self) -> list[Prepared]:
        """Claim a batch and read everything its sends need, in one short transaction."""
        record_deadline = time.monotonic() + self.lease.total_seconds() * 0.8
        async with self.runtime.transaction() as session:
            claimed = await self._claim(session)
            prepared = await self._prepare(session, claimed, record_deadline) if claimed else []
        for item in prepared:
            if item.claimed.ambiguous:
                self.stats.ambiguous += 1
                metrics.ambiguous_redelivery(
                    item.delivery.channel.value if item.delivery else "unknown"
                )
                log.warning(
                    "outbox.ambiguous_redelivery",
                    item_id=item.claimed.item_id,
                    idempotency_key=item.delivery.idempotency_key if item.delivery else None,
                )
        return prepared

    async def record_outcomes(self, outcomes: Sequence[tuple[Prepared, SendResult]]) -> None:
        if not outcomes:
            return
        await self._record_until_lease_ends(
            [(item.claimed.item_id, result) for item, result in outcomes],
            deadline=min(item.record_deadline for item, _ in outcomes),
        )

    async def claim(self) -> list[Claimed]:
        """Claim a batch in its own transaction (run_once also prepares it in that one)."""
        async with self.runtime.transaction() as session:
            return await self._claim(session)

    async def _claim(self, session: AsyncSession) -> list[Claimed]:
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
        claimed = sorted(
            (Claimed(item_id=row[0], ambiguous=bool(row[1])) for row in rows),
            key=lambda c: c.item_id,
        )
        self.stats.claimed += len(claimed)
        return claimed

    async def prepare(self, claimed: Claimed) -> Delivery | None:
        """What to send for one claimed row; None (and recorded as a permanent failure of this
        channel) when the recipient is no longer reachable on it."""
        async with self.runtime.transaction() as session:
            [prepared] = await self._prepare(session, [claimed], time.monotonic())
        if prepared.delivery is None:
            await self.record(claimed.item_id, Permanent(UNREACHABLE))
        return prepared.delivery

    async def _prepare(
        self, session: AsyncSession, claimed: Sequence[Claimed], record_deadline: float
    ) -> list[Prepared]:
        """Everything the senders need for a batch, in two queries."""
        rows = (
            await session.execute(
                select(
                    OutboxItem.id.label("item_id"),
                    OutboxItem.channel,
                    OutboxItem.idempotency_key,
                    OutreachMessage.subject,
                    OutreachMessage.body,
                    OutreachMessage.outcome,
                    OutreachMessage.application_id,
                    OutreachMessage.wechat_data,
                    OutreachMessage.sms_params,
                    MessageTemplate.wechat_template_id,
                    MessageTemplate.sms_template_code,
                    Candidate.id.label("candidate_id"),
                    Candidate.email,
                    Candidate.mobile,
                    Candidate.sms_opted_out_at,
                    Candidate.locale,
                    Candidate.proactive_opted_out_at,
                )
                .join(OutreachMessage, OutreachMessage.id == OutboxItem.message_id)
                .join(MessageTemplate, MessageTemplate.id == OutreachMessage.template_id)
                .join(Application, Application.id == OutreachMessage.application_id)
                .join(Candidate, Candidate.id == Application.candidate_id)
                .where(OutboxItem.id.in_([c.item_id for c in claimed]))
            )
        ).all()
        chat_candidates = {
            row.candidate_id for row in rows if row.channel not in (Channel.EMAIL, Channel.SMS)
        }
        bound: dict[tuple[int | None, Channel], str] = {}
        if chat_candidates:
            identities = await session.execute(
                select(
                    ChatIdentity.candidate_id, ChatIdentity.channel, ChatIdentity.external_user_id
                )
                .where(
                    ChatIdentity.candidate_id.in_(chat_candidates),
                    ChatIdentity.bound_at.is_not(None),
                    ChatIdentity.opted_out_at.is_(None),  # said STOP after this was queued
                )
                .order_by(ChatIdentity.id)
            )
            for candidate_id, bound_channel, external_user_id in identities:
                bound.setdefault((candidate_id, bound_channel), external_user_id)
        tokens = await self._booking_tokens(
            session, {row.application_id for row in rows if row.outcome is Decision.ADVANCE}
        )
        by_id = {row.item_id: row for row in rows}
        prepared = []
        for item in claimed:
            row = by_id[item.item_id]
            channel: Channel = row.channel
            recipient = (
                None  # asked for no proactive messages after this was queued
                if row.proactive_opted_out_at is not None
                else row.email
                if channel is Channel.EMAIL
                # E.164 for the provider; None once they replied TD after this was queued.
                else (mobile_or_none(row.mobile) if row.sms_opted_out_at is None else None)
                if channel is Channel.SMS
                else bound.get((row.candidate_id, channel))
            )
            delivery = None
            if recipient is not None:
                # An advance invites the candidate to book, beside the approved text.
                invited = add_invitation(
                    channel=channel,
                    locale=row.locale.value,
                    body=row.body,
                    wechat_data=dict(row.wechat_data),
                    sms_params=dict(row.sms_params),
                    token=tokens.get(row.application_id),
                    public_url=self.runtime.settings.public_url,
                )
                delivery = Delivery(
                    idempotency_key=row.idempotency_key,
                    channel=channel,
                    recipient=recipient,
                    subject=row.subject,
                    body=invited.body,
                    locale=row.locale.value,
                    wechat_data=invited.wechat_data,
                    # Outside the 48-hour window WeChat takes only a template message.
                    wechat_template_id=row.wechat_template_id,
                    # SMS providers send only their approved template, filled in.
                    sms_template_code=row.sms_template_code,
                    sms_params=invited.sms_params,
                    buttons=invited.buttons,
                    link=invited.link,
                )
            prepared.append(
                Prepared(claimed=item, delivery=delivery, record_deadline=record_deadline)
            )
        return prepared

    async def _booking_tokens(
        self, session: AsyncSession, application_ids: set[int]
    ) -> dict[int, str]:
        """The booking token of each application whose invitation is still open (one booked
        already, or closed, is not offered again)."""
        if not application_ids:
            return {}
        rows = await session.execute(
            select(SchedulingInvitation.application_id, SchedulingInvitation.token)
            .where(
                SchedulingInvitation.application_id.in_(sorted(application_ids)),
                SchedulingInvitation.state == InvitationState.OPEN,
            )
            .order_by(SchedulingInvitation.round)
        )
        # The latest round wins: ordered by round, later rows overwrite earlier ones.
        return {int(row.application_id): str(row.token) for row in rows}

    async def _record_until_lease_ends(
        self, outcomes: Sequence[tuple[int, SendResult]], *, deadline: float
    ) -> None:
        """Record, retrying a failing database until shortly before the lease runs out; after
        that the rows stay in flight and are redelivered (logged as ambiguous)."""
        if not outcomes:
            return
        delay = 0.25
        while True:
            try:
                await self.record_batch(outcomes)
                return
            except Exception as exc:
                if time.monotonic() + delay >= deadline:
                    log.exception(
                        "outbox.record_failed", worker=self.worker_id, items=len(outcomes)
                    )
                    return
                self.stats.record_retries += 1
                log.warning(
                    "outbox.record_retry",
                    worker=self.worker_id,
                    items=len(outcomes),
                    error=repr(exc),
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def record(self, item_id: int, result: SendResult) -> None:
        await self.record_batch([(item_id, result)])

    async def record_batch(self, outcomes: Sequence[tuple[int, SendResult]]) -> None:
        """Record a batch's results in one transaction, each guarded by this worker's claim."""
        by_id = dict(outcomes)
        # Counted once the transaction committed: a failed recording is retried, and a row
        # whose recording never commits is sent again (and counted then).
        recorded: list[Callable[[], None]] = []
        async with self.runtime.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxItem.id,
                        OutboxItem.state,
                        OutboxItem.claimed_by,
                        OutboxItem.message_id,
                        OutboxItem.channel,
                    )
                    .where(OutboxItem.id.in_(sorted(by_id)))
                    .order_by(OutboxItem.id)
                    .with_for_update()
                )
            ).all()
            ours = {
                row[0]: row
                for row in rows
                if row[1] is OutboxState.IN_FLIGHT and row[2] == self.worker_id
            }
            for item_id in by_id.keys() - ours.keys():
                # Our lease ran out and another worker owns the row now; it will record.
                self.stats.lost_claims += 1
                log.warning("outbox.claim_lost", item_id=item_id, worker=self.worker_id)
            sent = {
                item_id: result
                for item_id, result in by_id.items()
                if item_id in ours and isinstance(result, Sent)
            }
            if sent:
                await self._record_sent(
                    session,
                    {item_id: (ours[item_id][3], ours[item_id][4]) for item_id in sent},
                    sent,
                    recorded,
                )
            for item_id, result in sorted(by_id.items()):
                if item_id in ours and not isinstance(result, Sent):
                    item = await session.get_one(OutboxItem, item_id)
                    await self._apply(session, item, result, recorded)
        for record in recorded:
            record()

    async def _record_sent(
        self,
        session: AsyncSession,
        items: Mapping[int, tuple[int, Channel]],
        results: Mapping[int, Sent],
        recorded: list[Callable[[], None]],
    ) -> None:
        """The common case, set-based: the rows are sent, and each message still queued becomes
        sent on that channel (one recorded transition each)."""
        now = utcnow()
        message_ids = sorted({message_id for message_id, _ in items.values()})
        locked = (
            await session.execute(
                select(
                    OutreachMessage.id,
                    OutreachMessage.state,
                    OutreachMessage.application_id,
                    OutreachMessage.outcome,
                    OutreachMessage.result_version,
                )
                .where(OutreachMessage.id.in_(message_ids))
                .order_by(OutreachMessage.id)
                .with_for_update()
            )
        ).all()
        states = {row.id: row.state for row in locked}
        by_message = {row.id: row for row in locked}
        await session.execute(
            update(OutboxItem),
            [
                {
                    "id": item_id,
                    "state": OutboxState.SENT,
                    "provider_message_id": results[item_id].provider_message_id,
                    "sent_at": now,
                    "lease_until": None,
                }
                for item_id in sorted(items)
            ],
        )
        assert MessageState.SENT in TRANSITIONS[MessageState.QUEUED]
        newly_sent = {
            message_id: channel
            for message_id, channel in items.values()
            if states.get(message_id) is MessageState.QUEUED
        }
        if newly_sent:
            await session.execute(
                update(OutreachMessage),
                [
                    {
                        "id": message_id,
                        "state": MessageState.SENT,
                        "channel": channel,
                        "sent_at": now,
                    }
                    for message_id, channel in sorted(newly_sent.items())
                ],
            )
            await session.execute(
                insert(MessageTransition),
                [
                    {
                        "message_id": message_id,
                        "from_state": MessageState.QUEUED,
                        "to_state": MessageState.SENT,
                        "actor": SYSTEM_DISPATCHER,
                        "at": now,
                        "details": {},
                    }
                    for message_id in sorted(newly_sent)
                ],
            )
            # The ATS hears of it in this same transaction (candor.webhooks).
            await record_message_events(
                session,
                WebhookEventType.MESSAGE_DELIVERED,
                [
                    (
                        message_id,
                        by_message[message_id].application_id,
                        _message_details(by_message[message_id], channel, "channel"),
                    )
                    for message_id, channel in sorted(newly_sent.items())
                ],
                now=now,
            )
        self.stats.sent += len(items)
        for _, channel in items.values():
            recorded.append(partial(metrics.delivered, self.name, channel.value))
        for item_id, (_, channel) in items.items():
            log.debug("outbox.sent", item_id=item_id, channel=channel.value)
        log.info("outbox.recorded_sent", worker=self.worker_id, items=len(items))

    async def _apply(
        self,
        session: AsyncSession,
        item: OutboxItem,
        result: RetryAfter | Permanent,
        recorded: list[Callable[[], None]],
    ) -> None:
        """A failed send, row by row: retry later, or give up on this channel and fall back."""
        now = utcnow()
        message = await session.get_one(OutreachMessage, item.message_id, with_for_update=True)
        item.lease_until = None
        match result:
            case RetryAfter(seconds=seconds, reason=reason) if item.attempts < self.max_attempts:
                item.state = OutboxState.PENDING
                item.last_error = reason
                item.next_attempt_at = self.context.quiet_hours.next_allowed(
                    now + backoff(item.attempts, minimum=seconds)
                )
                self.stats.retried += 1
                recorded.append(partial(metrics.retried, self.name, item.channel.value, reason))
                log.info("outbox.retry", item_id=item.id, reason=reason, attempts=item.attempts)
            case RetryAfter(reason=reason):
                item.state = OutboxState.EXHAUSTED
                item.last_error = f"gave up after {item.attempts} attempts: {reason}"
                recorded.append(
                    partial(metrics.failed, self.name, item.channel.value, reason, exhausted=True)
                )
                await self._fall_back(session, item, message, now, recorded, exhausted=True)
            case Permanent(reason=reason):
                item.state = OutboxState.PERMANENT_FAILURE
                item.last_error = reason
                recorded.append(partial(metrics.failed, self.name, item.channel.value, reason))
                await self._fall_back(session, item, message, now, recorded, exhausted=False)

    async def _fall_back(
        self,
        session: AsyncSession,
        item: OutboxItem,
        message: OutreachMessage,
        now: datetime,
        recorded: list[Callable[[], None]],
        *,
        exhausted: bool,
    ) -> None:
        outcome = await fall_back(
            session, item, message, self.context.quiet_hours, now, exhausted=exhausted
        )
        if outcome.next_channel is not None or outcome.final_state is not None:
            to = outcome.next_channel.value if outcome.next_channel is not None else None
            recorded.append(partial(metrics.fell_back, item.channel.value, to))
        if outcome.next_channel is not None:
            self.stats.fell_back += 1
        elif outcome.final_state is MessageState.FAILED:
            self.stats.failed += 1
        elif outcome.final_state is MessageState.UNDELIVERABLE:
            self.stats.undeliverable += 1


@dataclass(frozen=True, slots=True)
class Fallback:
    """Where a message went after one channel gave up on it: the next channel, or a final
    state when none was left (neither when the message had settled meanwhile)."""

    next_channel: Channel | None = None
    final_state: MessageState | None = None


async def fall_back(
    session: AsyncSession,
    item: OutboxItem,
    message: OutreachMessage,
    quiet_hours: QuietHours,
    now: datetime,
    *,
    exhausted: bool,
) -> Fallback:
    """The message goes to the candidate's next reachable channel not yet tried; with none
    left it fails (`exhausted`: retries ran out, or the provider reported it undelivered) or
    is undeliverable, and the owning recruiter is told.

    Used when a send gives up (the dispatcher) and when a provider's receipt reports a sent
    message undelivered: that message goes from sent back to queued on the next channel."""
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
        if message.state is MessageState.SENT:
            transition(
                session,
                message,
                MessageState.QUEUED,
                actor=SYSTEM_DISPATCHER,
                at=now,
                reason=f"{item.channel.value} did not deliver: {item.last_error}; "
                f"trying {remaining[0].value}",
            )
        enqueue_delivery(session, message, application, remaining[0], quiet_hours, now)
        log.info(
            "outbox.fallback",
            item_id=item.id,
            from_channel=item.channel.value,
            to_channel=remaining[0].value,
            reason=item.last_error,
        )
        return Fallback(next_channel=remaining[0])
    if message.state not in (MessageState.QUEUED, MessageState.SENT):
        return Fallback()
    # A sent message the provider could not deliver failed; it cannot be "undeliverable",
    # which says no channel ever took it.
    final = (
        MessageState.FAILED
        if exhausted or message.state is MessageState.SENT
        else MessageState.UNDELIVERABLE
    )
    reason = f"no channel left; last error: {item.last_error}"
    transition(session, message, final, actor=SYSTEM_DISPATCHER, at=now, reason=reason)
    await record_message_events(
        session,
        WebhookEventType.MESSAGE_UNDELIVERABLE,
        [
            (
                message.id,
                message.application_id,
                {**_message_details(message, item.channel, None), "reason": reason},
            )
        ],
        now=now,
    )
    await notify_undeliverable(session, message, reason=reason, now=now)
    return Fallback(final_state=final)


async def record_receipt(
    session: AsyncSession,
    *,
    provider_message_id: str,
    delivered: bool,
    reason: str | None = None,
    channel: Channel | None = None,
    quiet_hours: QuietHours | None = None,
) -> OutreachMessage | None:
    """A channel's delivery receipt (today an SMS status report; WeChat's
    TEMPLATESENDJOBFINISH is not wired to it) settles the message: delivered, or on to the
    next channel as when a send gives up (`fall_back`), failing when none is left. None for
    an id no outbox row of `channel` has.

    A late or repeated receipt changes nothing, so replayed callbacks are harmless."""
    query = select(OutboxItem).where(OutboxItem.provider_message_id == provider_message_id)
    if channel is not None:
        query = query.where(OutboxItem.channel == channel)
    item = await session.scalar(query.order_by(OutboxItem.id.desc()).limit(1))
    if item is None:
        return None
    message = await session.get_one(OutreachMessage, item.message_id, with_for_update=True)
    if (
        message.state is not MessageState.SENT
        or message.channel != item.channel
        or item.state is not OutboxState.SENT
    ):
        return message  # a late or repeated receipt changes nothing
    now = utcnow()
    actor = f"receipt:{item.channel.value}"
    if delivered:
        transition(session, message, MessageState.DELIVERED, actor=actor, at=now)
        message.delivered_at = now
        await record_message_events(
            session,
            WebhookEventType.MESSAGE_DELIVERED,
            [
                (
                    message.id,
                    message.application_id,
                    _message_details(message, item.channel, "receipt"),
                )
            ],
            now=now,
        )
        return message
    item.state = OutboxState.PERMANENT_FAILURE
    item.last_error = reason or "the provider reported a failed delivery"
    outcome = await fall_back(
        session, item, message, quiet_hours or QuietHours(), now, exhausted=True
    )
    if outcome.next_channel is not None or outcome.final_state is not None:
        # Counted before the caller's commit: a receipt handler whose commit fails is
        # answered with an error and the provider repeats the receipt, counted once more.
        next_channel = outcome.next_channel.value if outcome.next_channel is not None else None
        metrics.fell_back(item.channel.value, next_channel)
    return message


class _MessageFacts(Protocol):
    @property
    def outcome(self) -> Decision: ...
    @property
    def result_version(self) -> int: ...


def _message_details(
    message: _MessageFacts, channel: Channel, confirmed_by: str | None
) -> dict[str, Any]:
    """What a message event says beside the application: which result, on which channel,
    and (delivered) whether the channel took it or a receipt confirmed it."""
    details: dict[str, Any] = {
        "outcome": message.outcome.value,
        "result_version": message.result_version,
        "channel": channel.value,
    }
    if confirmed_by is not None:
        details["confirmed_by"] = confirmed_by
    return details
