"""The webhook outbox: fan events out to endpoints, claim due deliveries with a lease, send
them and record every attempt.

Run by the worker beside the delivery loop, with the outbox's habits
(`candor.outreach.dispatcher`): a claim is one short transaction that marks rows
`in_flight` with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers take disjoint
rows; SQLite's single writer serialises it), sending happens with no transaction open, and
recording is guarded by the claim, so a worker whose lease ran out cannot overwrite a row
another worker has taken. A worker killed mid-send leaves its rows `in_flight`; once the
lease expires the next claim sends them again with the same `webhook-id`: at least once,
nothing lost.

Order: only the oldest undecided delivery of an (endpoint, application) pair is ever due,
so a later event for an application waits until the earlier one was delivered or given up.
It also waits while an earlier event of its application is not fanned out yet: with
several workers one may hold events 1-3 in its fan-out while another fans out event 4.
The gap left: ids are allocated at flush, so two transactions writing events of one
application at once may commit out of id order (see docs/ats-integration.md).

Retries follow `RETRY_DELAYS` (about three days); after the last failed attempt the
delivery is given up (`failed`) and the next event of its application goes. An endpoint
that failed every attempt for `CANDOR_WEBHOOKS_DISABLE_AFTER_HOURS` is disabled: nothing
more is sent (its events keep queuing), and every active admin is e-mailed. A delivery
whose last attempt fails while its endpoint is (being) disabled is not given up: the fault
is the endpoint's, and enabling it again (`service.update_endpoint`) resends it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from candor.audit.service import Action, record
from candor.clock import BUSINESS_TZ, utcnow
from candor.delivery.direct import queue_direct
from candor.logging import get_logger
from candor.models import HRUser
from candor.models.enums import Channel, Locale, Role
from candor.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
)
from candor.outreach.dispatcher import default_worker_id
from candor.runtime import Runtime
from candor.webhooks.http import AttemptOutcome, WebhookClient

log = get_logger(__name__)

SYSTEM_ACTOR = "system:webhooks"
# The wait after the 1st, 2nd, ... failed attempt; the attempt after the last wait is the
# final one. 10 attempts over 75 h 35 min.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
)
FAN_OUT_BATCH = 500
UNDECIDED = (WebhookDeliveryState.PENDING, WebhookDeliveryState.IN_FLIGHT)


def body_of(payload: dict[str, object]) -> str:
    """The request body: stable across retries (PostgreSQL's JSONB does not keep key order)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    found = [endpoint.secret]
    if (
        endpoint.previous_secret is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(endpoint.previous_secret)
    return found


@dataclass(frozen=True, slots=True)
class ClaimedWebhook:
    delivery_id: int
    endpoint_id: int
    msg_id: str
    url: str
    body: str
    signing_secrets: tuple[str, ...]


@dataclass(slots=True)
class WebhookStats:
    fanned_out: int = 0
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    given_up: int = 0
    lost_claims: int = 0
    disabled: int = 0


class WebhookQueue:
    name = "webhooks"

    def __init__(
        self,
        runtime: Runtime,
        *,
        client: WebhookClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        worker_id: str | None = None,
        batch_size: int = 50,
        lease: timedelta | None = None,
        retry_delays: Sequence[timedelta] = RETRY_DELAYS,
        disable_after: timedelta | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.client = client or WebhookClient(
            timeout=settings.webhooks_timeout_seconds,
            allow_private=settings.webhooks_allow_private_networks,
            max_connections=batch_size,
            transport=transport,
        )
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        # Far above one attempt's deadline (the send's whole timeout), so a lease runs out
        # only for a worker that died or stalled, not one still waiting for its answer.
        self.lease = lease or max(
            timedelta(seconds=60), timedelta(seconds=3 * settings.webhooks_timeout_seconds)
        )
        self.retry_delays = tuple(retry_delays)
        self.disable_after = (
            disable_after
            if disable_after is not None
            else timedelta(hours=settings.webhooks_disable_after_hours)
        )
        self.stats = WebhookStats()

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- one round ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Fan out new events, claim a batch, send it, record it; returns how many rows were
        fanned out or claimed."""
        fanned = await self.fan_out()
        claimed = await self.claim_due()
        if claimed:
            outcomes = await asyncio.gather(*(self.send(c) for c in claimed))
            await self.record(list(zip(claimed, outcomes, strict=True)))
        return fanned + len(claimed)

    async def drain(self) -> int:
        handled = 0
        while done := await self.run_once():
            handled += done
        return handled

    async def run_forever(self, stop: asyncio.Event, *, idle_wait: float = 0.5) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("webhooks.round_failed")
                handled = 0
            if handled < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_wait)

    # -- fan-out -----------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """A delivery per endpoint enabled and subscribed when the worker sees the event; an
        event nobody subscribed to is dropped (there is nothing to deliver)."""
        now = utcnow()
        async with self.runtime.transaction() as session:
            events = (
                await session.execute(
                    select(WebhookEvent.id, WebhookEvent.type, WebhookEvent.ordering_key)
                    .where(WebhookEvent.fanned_out.is_(False))
                    .order_by(WebhookEvent.id)
                    .limit(FAN_OUT_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not events:
                return 0
            endpoints = (
                await session.execute(
                    select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                        WebhookEndpoint.enabled.is_(True)
                    )
                )
            ).all()
            rows = [
                {
                    "endpoint_id": endpoint_id,
                    "event_id": event.id,
                    "ordering_key": event.ordering_key,
                    "state": WebhookDeliveryState.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for event in events
                for endpoint_id, types in endpoints
                if event.type.value in types
            ]
            if rows:
                await session.execute(insert(WebhookDelivery), rows)
            wanted = {row["event_id"] for row in rows}
            unwanted = [event.id for event in events if event.id not in wanted]
            if unwanted:
                await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(unwanted)))
            if wanted:
                await session.execute(
                    update(WebhookEvent)
                    .where(WebhookEvent.id.in_(sorted(wanted)))
                    .values(fanned_out=True)
                    .execution_options(synchronize_session=False)
                )
        self.stats.fanned_out += len(rows)
        return len(events)

    # -- claim -------------------------------------------------------------------------------

    async def claim_due(self) -> list[ClaimedWebhook]:
        """Claim due deliveries (the head of each endpoint's queue per application) and read
        what their requests need, in one short transaction."""
        now = utcnow()
        earlier = aliased(WebhookDelivery)
        waiting_behind_earlier = exists().where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.event_id < WebhookDelivery.event_id,
            earlier.state.in_(UNDECIDED),
        )
        # Another worker may still be fanning out an earlier event of the same key (its
        # fan-out holds those rows, so ours skipped them): no delivery of it exists yet.
        earlier_event = aliased(WebhookEvent)
        waiting_for_earlier_fan_out = exists().where(
            earlier_event.ordering_key == WebhookDelivery.ordering_key,
            earlier_event.id < WebhookDelivery.event_id,
            earlier_event.fanned_out.is_(False),
        )
        due = or_(
            and_(
                WebhookDelivery.state == WebhookDeliveryState.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            ),
            and_(
                WebhookDelivery.state == WebhookDeliveryState.IN_FLIGHT,
                WebhookDelivery.lease_until < now,
            ),
        )
        sending_endpoints = select(WebhookEndpoint.id).where(
            WebhookEndpoint.enabled.is_(True), WebhookEndpoint.disabled_at.is_(None)
        )
        candidates = (
            select(WebhookDelivery.id)
            .where(
                due,
                WebhookDelivery.endpoint_id.in_(sending_endpoints.scalar_subquery()),
                ~waiting_behind_earlier,
                ~waiting_for_earlier_fan_out,
            )
            .order_by(WebhookDelivery.event_id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        async with self.runtime.transaction() as session:
            claimed_ids = (
                await session.scalars(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(candidates.scalar_subquery()), due)
                    .values(
                        state=WebhookDeliveryState.IN_FLIGHT,
                        claimed_by=self.worker_id,
                        lease_until=now + self.lease,
                        attempts=WebhookDelivery.attempts + 1,
                        updated_at=now,
                    )
                    .returning(WebhookDelivery.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not claimed_ids:
                return []
            rows = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookEvent, WebhookEndpoint)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id.in_(claimed_ids))
                    .order_by(WebhookDelivery.event_id)
                )
            ).all()
            claimed = [
                ClaimedWebhook(
                    delivery_id=delivery_id,
                    endpoint_id=endpoint.id,
                    msg_id=event.public_id,
                    url=endpoint.url,
                    body=body_of(event.payload),
                    signing_secrets=tuple(signing_secrets(endpoint, now)),
                )
                for delivery_id, event, endpoint in rows
            ]
        self.stats.claimed += len(claimed)
        return claimed

    async def send(self, claimed: ClaimedWebhook) -> AttemptOutcome:
        try:
            return await self.client.post(
                claimed.url,
                msg_id=claimed.msg_id,
                body=claimed.body,
                signing_secrets=claimed.signing_secrets,
            )
        except Exception as exc:  # a bug in sending must not lose the attempt's record
            log.exception("webhooks.send_crashed", delivery_id=claimed.delivery_id)
            return AttemptOutcome(succeeded=False, error=f"internal error: {type(exc).__name__}")

    # -- record ------------------------------------------------------------------------------

    async def record(self, outcomes: Sequence[tuple[ClaimedWebhook, AttemptOutcome]]) -> None:
        """Every attempt, and each delivery's next state, in one transaction, guarded by this
        worker's claim."""
        if not outcomes:
            return
        now = utcnow()
        ids = sorted(claimed.delivery_id for claimed, _ in outcomes)
        async with self.runtime.transaction() as session:
            locked = (
                await session.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids))
                    .order_by(WebhookDelivery.id)
                    .with_for_update()
                )
            ).all()
            ours = {
                d.id: d
                for d in locked
                if d.state is WebhookDeliveryState.IN_FLIGHT and d.claimed_by == self.worker_id
            }
            for delivery_id in sorted(set(ids) - ours.keys()):
                # Our lease ran out and another worker has the row now; it will record.
                self.stats.lost_claims += 1
                log.warning("webhooks.claim_lost", delivery_id=delivery_id)
            if not ours:
                return
            endpoints = {
                e.id: e
                for e in (
                    await session.scalars(
                        select(WebhookEndpoint)
                        .where(
                            WebhookEndpoint.id.in_(sorted({d.endpoint_id for d in ours.values()}))
                        )
                        .order_by(WebhookEndpoint.id)
                        .with_for_update()
                    )
                ).all()
            }
            mine = sorted(
                ((c, o) for c, o in outcomes if c.delivery_id in ours),
                key=lambda pair: pair[0].delivery_id,
            )
            await session.execute(
                insert(WebhookAttempt),
                [
                    {
                        "delivery_id": claimed.delivery_id,
                        "attempted_at": now,
                        "succeeded": outcome.succeeded,
                        "status_code": outcome.status_code,
                        "latency_ms": outcome.latency_ms,
                        "response_excerpt": outcome.response_excerpt,
                        "error": outcome.error,
                    }
                    for claimed, outcome in mine
                ],
            )
            for claimed, outcome in mine:
                delivery = ours[claimed.delivery_id]
                endpoint = endpoints[delivery.endpoint_id]
                delivery.lease_until = None
                delivery.updated_at = now
                if outcome.succeeded:
                    delivery.state = WebhookDeliveryState.DELIVERED
                    delivery.delivered_at = now
                    delivery.last_error = None
                    endpoint.failing_since = None
                    self.stats.delivered += 1
                    continue
                delivery.last_error = outcome.error
                await self._note_failure(session, endpoint, outcome, now)
                if delivery.attempts <= len(self.retry_delays):
                    delivery.state = WebhookDeliveryState.PENDING
                    delivery.next_attempt_at = now + self.retry_delays[delivery.attempts - 1]
                    self.stats.retried += 1
                elif endpoint.disabled_at is not None:
                    # The endpoint is off, not this event: it waits (pending) and goes first,
                    # with a fresh schedule, once an admin enables the endpoint again.
                    delivery.state = WebhookDeliveryState.PENDING
                    delivery.next_attempt_at = now
                    self.stats.retried += 1
                else:
                    delivery.state = WebhookDeliveryState.FAILED
                    self.stats.given_up += 1
                    log.warning(
                        "webhooks.given_up",
                        delivery_id=delivery.id,
                        endpoint_id=endpoint.id,
                        attempts=delivery.attempts,
                    )

    async def _note_failure(
        self,
        session: AsyncSession,
        endpoint: WebhookEndpoint,
        outcome: AttemptOutcome,
        now: datetime,
    ) -> None:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        if endpoint.disabled_at is not None or now - endpoint.failing_since < self.disable_after:
            return
        endpoint.disabled_at = now
        since = endpoint.failing_since.astimezone(BUSINESS_TZ)
        endpoint.disabled_reason = (
            f"every attempt failed since {since:%Y-%m-%d %H:%M} (China time); "
            f"last error: {outcome.error}"
        )
        self.stats.disabled += 1
        record(
            session,
            actor=SYSTEM_ACTOR,
            action=Action.WEBHOOK_ENDPOINT_DISABLED,
            object_type="webhook_endpoint",
            object_id=endpoint.id,
            after={"disabled_reason": endpoint.disabled_reason},
            at=now,
        )
        await notify_admins_disabled(session, endpoint, now=now)
        log.warning("webhooks.endpoint_disabled", endpoint_id=endpoint.id)


async def notify_admins_disabled(
    session: AsyncSession, endpoint: WebhookEndpoint, *, now: datetime
) -> int:
    """E-mail every active admin, through the delivery loop's direct queue (after commit)."""
    admins = (
        await session.scalars(
            select(HRUser.email).where(HRUser.role == Role.ADMIN, HRUser.is_active.is_(True))
        )
    ).all()
    subject = f"[Candor] Webhook 已停用 / Webhook endpoint disabled: {endpoint.url}"[:300]
    body = (
        f"Candor 已停止向此 webhook 发送事件 / Candor stopped sending to this webhook endpoint:\n"
        f"{endpoint.url}\n\n{endpoint.disabled_reason}\n\n"
        "事件仍在排队；修复接收端后在控制台重新启用即可按顺序补发。\n"
        "Events keep queuing; enable the endpoint again in the console (Admin → Webhooks) "
        "once the receiver is fixed and they are delivered in order."
    )
    for email in admins:
        queue_direct(
            session,
            channel=Channel.EMAIL,
            recipient=email,
            subject=subject,
            body=body,
            locale=Locale.ZH_CN,
            now=now,
        )
    return len(admins)


async def prune_settled(session: AsyncSession, *, before: datetime) -> int:
    """Forget events older than `before` whose every delivery is settled (delivered or given
    up), with their deliveries and attempts; returns how many events went."""
    undecided = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.state.in_(UNDECIDED)
    )
    result = await session.execute(
        delete(WebhookEvent)
        .where(
            WebhookEvent.occurred_at < before,
            WebhookEvent.fanned_out.is_(True),
            ~undecided,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
