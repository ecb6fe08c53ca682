"""`candor worker`: the delivery loop and the periodic jobs, with one owner for timeouts,
retries and errors.

Each job is a small class with a name, an interval and `run(runtime)`. The worker owns
everything around it, so no job swallows its own errors, hangs or holds up another:
- each job runs in its own task on its own schedule, so a slow `sla_watch` never delays the
  next prune or a chat delivery;
- a timeout per run;
- failures are logged with the exception and retried on the next tick with backoff;
- a Redis lock makes a periodic job run on one worker at a time across machines.
Beside the jobs run the webhook outbox (`candor.webhooks.queue`) and the one delivery loop
(`candor.delivery.loop`) over its queues: result messages, direct messages (chat replies,
binding codes) and HR notices. The senders it uses
are built once per process by the composition root (`candor worker`, `candor serve`) and
passed in, so this module knows no concrete channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import LockError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from candor import idempotency, metrics
from candor.bootstrap import ensure_reference_data
from candor.clock import utcnow
from candor.delivery.direct import DirectQueue
from candor.delivery.loop import DeliveryLoop, DeliveryQueue, Sending
from candor.delivery.ports import ChannelSender, close_senders
from candor.hr_chat.ports import CardSender
from candor.hr_chat.queue import HrCardQueue
from candor.logging import configure_logging, get_logger
from candor.metrics.heartbeat import run_heartbeat
from candor.metrics.process import configure as configure_metrics
from candor.metrics.process import mark_dead as mark_metrics_process_dead
from candor.models import AtsEvent
from candor.models.enums import Channel, HrChatPlatform
from candor.notify.hr_mail import HrNoticeQueue
from candor.outreach.context import outreach_context
from candor.outreach.dispatcher import Dispatcher
from candor.outreach.service import OutreachContext, QuietHours
from candor.outreach.sla_watch import check_deadlines
from candor.privacy import deletion, erasure, retention
from candor.privacy import service as privacy
from candor.runtime import Runtime, open_runtime
from candor.scheduling import reminders
from candor.settings import Settings
from candor.webhooks.queue import WebhookQueue, prune_settled

log = get_logger(__name__)


class Job(ABC):
    name: str
    interval: timedelta
    timeout: timedelta = timedelta(minutes=5)

    @abstractmethod
    async def run(self, runtime: Runtime) -> int:
        """Do one round of work; return how many items it handled (for the log)."""


class PruneAtsEvents(Job):
    """Forget ATS idempotency records after the retention period.

    ATS systems retry within minutes or hours; keeping every event id forever would grow the
    table without bound. A replay older than the retention is applied again, which is safe
    for every event type except a second result_decided, hence the generous default.
    """

    name = "prune_ats_events"
    interval = timedelta(hours=1)

    def __init__(self, retention: timedelta = timedelta(days=90)) -> None:
        self.retention = retention

    async def run(self, runtime: Runtime) -> int:
        cutoff = utcnow() - self.retention
        async with runtime.transaction() as session:
            result = await session.execute(delete(AtsEvent).where(AtsEvent.received_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


class PruneIdempotencyKeys(Job):
    """Forget HR POSTs' Idempotency-Keys past the retention (candor/idempotency.py)."""

    name = "prune_idempotency_keys"
    interval = timedelta(hours=1)

    async def run(self, runtime: Runtime) -> int:
        retention = timedelta(days=runtime.settings.idempotency_key_retention_days)
        async with runtime.transaction() as session:
            return await idempotency.prune(session, retention=retention, now=utcnow())


class SlaWatch(Job):
    """Record SLA reminders, escalations and breaches (candor/outreach/sla_watch.py).

    Every few minutes is plenty: the thresholds are whole working days, and a breach is
    stamped within one interval of the deadline."""

    name = "sla_watch"
    interval = timedelta(minutes=5)

    async def run(self, runtime: Runtime) -> int:
        async with runtime.transaction() as session:
            checked = await check_deadlines(session, now=utcnow())
        return checked.handled


class PruneWebhookEvents(Job):
    """Forget settled webhook events (every delivery delivered or given up) after the
    retention, with their deliveries and attempts: the admin's view of the attempts reaches
    back that far."""

    name = "prune_webhook_events"
    interval = timedelta(hours=1)

    def __init__(self, retention: timedelta = timedelta(days=30)) -> None:
        self.retention = retention

    async def run(self, runtime: Runtime) -> int:
        async with runtime.transaction() as session:
            return await prune_settled(session, before=utcnow() - self.retention)


class EraseCandidates(Job):
    """Deletion requests (candor.privacy): close those never confirmed, then erase each one
    past its cooling-off period and not on legal hold, and finish any a dead process left
    half way. Each request by id, in its own transactions."""

    name = "erase_candidates"
    interval = timedelta(minutes=1)
    timeout = timedelta(minutes=30)

    async def run(self, runtime: Runtime) -> int:
        now = utcnow()
        async with runtime.transaction() as session:
            await deletion.expire_unconfirmed(session, now=now)
            due = await deletion.due_request_ids(session, now=now)
        erased = 0
        for request_id in due:
            erased += int(await erasure.erase(runtime, request_id))
        return erased


class PurgeExpiredData(Job):
    """Retention (candor.privacy.retention): purge each class of personal data past its
    configured period, with an audit row per run."""

    name = "purge_expired_data"
    interval = timedelta(hours=6)
    timeout = timedelta(minutes=30)

    async def run(self, runtime: Runtime) -> int:
        async with runtime.transaction() as session:
            report = await retention.purge(
                session, runtime.settings, now=utcnow(), dry_run=False, actor="system:worker"
            )
        return sum(report.values())


class PruneDataExports(Job):
    """Drop the copies of candidates' data behind links that expired undownloaded
    (candor/privacy/service.py): a copy lives no longer than its link."""

    name = "prune_data_exports"
    interval = timedelta(minutes=15)

    async def run(self, runtime: Runtime) -> int:
        async with runtime.transaction() as session:
            return await privacy.prune_expired(session, now=utcnow())


class InterviewReminders(Job):
    """Remind candidates of their booked interviews 24 and 2 hours before, once each,
    respecting quiet hours, and give lapsed holds' seats back (candor.scheduling.reminders).

    Every five minutes: a reminder goes within five minutes of its time, or of the end of
    the quiet hours it fell in."""

    name = "interview_reminders"
    interval = timedelta(minutes=5)

    async def run(self, runtime: Runtime) -> int:
        settings = runtime.settings
        quiet = QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end)
        return await reminders.send_due_reminders(runtime, now=utcnow(), quiet_hours=quiet)


DEFAULT_JOBS: tuple[Job, ...] = (
    EraseCandidates(),
    InterviewReminders(),
    PurgeExpiredData(),
    PruneAtsEvents(),
    PruneDataExports(),
    PruneIdempotencyKeys(),
    PruneWebhookEvents(),
    SlaWatch(),
)

Senders = Mapping[Channel, ChannelSender]
CardSenders = Mapping[HrChatPlatform, CardSender]
CardSendersFactory = Callable[[Settings, Redis], CardSenders]
SendersFactory = Callable[
    [Settings, Redis, async_sessionmaker[AsyncSession]], dict[Channel, ChannelSender]
]


@dataclass(slots=True)
class JobState:
    failures: int = 0
    next_run: float = 0.0
    runs: int = field(default=0)


MAX_BACKOFF_S = 300.0


async def run_job_once(runtime: Runtime, job: Job) -> int | None:
    """Run `job` under its timeout and the cross-process lock; None when another worker has it."""
    lock = runtime.redis.lock(
        f"candor:job-lock:{job.name}",
        timeout=job.timeout.total_seconds() + 30,
        blocking=False,
    )
    if not await lock.acquire():
        return None
    try:
        return await asyncio.wait_for(job.run(runtime), timeout=job.timeout.total_seconds())
    finally:
        try:
            await lock.release()
        except LockError:
            # The lock expired mid-run (the job outlived timeout + 30 s); nothing to free.
            log.warning("worker.lock_lost", job=job.name)


async def run_jobs(
    runtime: Runtime, jobs: tuple[Job, ...], *, once: bool, stop: asyncio.Event
) -> dict[str, JobState]:
    """Every job on its own schedule, each in its own task, until `stop` (or one pass, in
    which a failure is raised)."""
    states = {job.name: JobState() for job in jobs}
    if once:
        for job in jobs:
            await _run_scheduled(runtime, job, states[job.name], raise_errors=True)
        return states
    await asyncio.gather(*(_job_loop(runtime, job, states[job.name], stop) for job in jobs))
    return states


async def _job_loop(runtime: Runtime, job: Job, state: JobState, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        await _run_scheduled(runtime, job, state, raise_errors=False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, state.next_run - loop.time()))


async def _run_scheduled(
    runtime: Runtime, job: Job, state: JobState, *, raise_errors: bool
) -> None:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        handled = await run_job_once(runtime, job)
    except Exception:
        metrics.observe_job(job.name, time.perf_counter() - started, ok=False)
        state.failures += 1
        delay = min(MAX_BACKOFF_S, 2.0**state.failures)
        log.exception("worker.job_failed", job=job.name, failures=state.failures)
        state.next_run = loop.time() + delay
        if raise_errors:
            raise
        return
    if handled is not None:  # None: another worker holds the job's lock, nothing ran here
        metrics.observe_job(job.name, time.perf_counter() - started, ok=True)
    state.failures = 0
    state.runs += 1
    state.next_run = loop.time() + job.interval.total_seconds()
    log.info("worker.job_ran", job=job.name, handled=handled)


async def _outreach_context(
    runtime: Runtime, stop: asyncio.Event, *, once: bool
) -> OutreachContext | None:
    """The dispatcher's context, waiting for the database if it is down at start-up (a
    restart, a failover): a worker started then would otherwise exit, although its loops
    ride out the same outage once running. `--once` fails at once instead. None if stopped."""
    delay = 1.0
    while True:
        try:
            async with runtime.sessionmaker() as session:
                return await outreach_context(session, runtime.settings)
        except Exception as exc:
            if once:
                raise
            log.warning("worker.database_unavailable", error=repr(exc), retry_in=delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return None
        delay = min(delay * 2, 30.0)


def delivery_queues(
    runtime: Runtime,
    senders: Senders,
    context: OutreachContext,
    card_senders: CardSenders | None = None,
) -> list[DeliveryQueue[Any]]:
    """The queues of the one delivery loop: results, direct messages, HR notices when
    there is an SMTP server to mail them (otherwise they wait, listed in the console), and
    HR's approval cards on the chat platforms configured (WeCom, Telegram)."""
    queues: list[DeliveryQueue[Any]] = [Dispatcher(runtime, senders, context), DirectQueue(runtime)]
    if runtime.settings.smtp_host:
        queues.append(HrNoticeQueue(runtime))
    if card_senders:
        queues.append(HrCardQueue(runtime, card_senders))
    return queues


async def run_worker_loops(
    runtime: Runtime,
    senders: Senders,
    stop: asyncio.Event,
    *,
    once: bool = False,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    card_senders: CardSenders | None = None,
) -> None:
    """The periodic jobs, the delivery loop and the webhook outbox, until `stop` is set (or
    one pass). `webhook_transport` is the HTTP transport of the webhooks (the composition
    root's choice; httpx's own when None); `card_senders` show HR's approval cards."""
    context = await _outreach_context(runtime, stop, once=once)
    if context is None:
        return
    await ensure_reference_data(runtime)
    queues = delivery_queues(runtime, senders, context, card_senders)
    sending = Sending(senders, concurrency=runtime.settings.dispatcher_concurrency)
    deliveries = DeliveryLoop(sending, queues)
    webhooks = WebhookQueue(runtime, transport=webhook_transport)
    try:
        if once:
            await run_jobs(runtime, DEFAULT_JOBS, once=True, stop=stop)
            await deliveries.drain()
            await webhooks.drain()
            await deliveries.drain()  # the admins' mail about an endpoint just disabled
        else:
            await asyncio.gather(
                # What `candor_workers_alive` counts at scrape time.
                run_heartbeat(runtime.redis, stop),
                run_jobs(runtime, DEFAULT_JOBS, once=False, stop=stop),
                deliveries.run_forever(stop),
                webhooks.run_forever(stop),
            )
    finally:
        await webhooks.aclose()


async def run_worker(
    settings: Settings,
    build_senders: SendersFactory,
    *,
    once: bool = False,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    build_card_senders: CardSendersFactory | None = None,
) -> None:
    """`candor worker`: run until SIGINT/SIGTERM, sending through the senders that
    `build_senders` (and `build_card_senders`) make once for this process."""
    configure_logging(settings)
    # Multiprocess metrics on before any is built. The dead processes' files are left to
    # `candor serve` to clear at its start: removing them now would shrink the host's sums
    # under a running API, which Prometheus would read as a counter reset.
    configure_metrics(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker.started", jobs=[job.name for job in DEFAULT_JOBS], once=once)
    async with open_runtime(settings) as runtime:
        senders = build_senders(settings, runtime.redis, runtime.sessionmaker)
        card_senders = build_card_senders(settings, runtime.redis) if build_card_senders else {}
        try:
            await run_worker_loops(
                runtime,
                senders,
                stop,
                once=once,
                webhook_transport=webhook_transport,
                card_senders=card_senders,
            )
        finally:
            await close_senders(senders)
            for card_sender in card_senders.values():
                await card_sender.aclose()
            mark_metrics_process_dead()
    log.info("worker.stopped")
