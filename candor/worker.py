"""`candor worker`: periodic background jobs with one owner for timeouts, retries and errors.

Each job is a small class with a name, an interval and `run(runtime)`. The worker loop owns
everything around it, so no job swallows its own errors or hangs the loop:
- a timeout per run;
- failures are logged with the exception and retried on the next tick with backoff;
- a Redis lock makes a periodic job run on one worker at a time across machines.
The outbox dispatcher runs beside these jobs; SLA reminders are the `sla_watch` job.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta

from redis.exceptions import LockError
from sqlalchemy import delete

from candor import idempotency
from candor.bootstrap import ensure_reference_data
from candor.clock import utcnow
from candor.logging import configure_logging, get_logger
from candor.models import AtsEvent
from candor.outreach.channels import build_senders, close_senders
from candor.outreach.context import outreach_context
from candor.outreach.dispatcher import Dispatcher
from candor.outreach.service import OutreachContext
from candor.outreach.sla_watch import check_deadlines
from candor.runtime import Runtime, open_runtime
from candor.settings import Settings

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


class HrNotificationMail(Job):
    """E-mail recorded SLA notifications to their HR users (candor/notify/hr_mail.py); only
    with SMTP configured, otherwise they wait, listed as undelivered in the console."""

    name = "hr_notification_mail"
    interval = timedelta(minutes=1)

    async def run(self, runtime: Runtime) -> int:
        from candor.mail import SmtpMailer
        from candor.notify.hr_mail import deliver_sla_notifications

        if not runtime.settings.smtp_host:
            return 0
        return await deliver_sla_notifications(runtime, SmtpMailer.from_settings(runtime.settings))


class ChatDeliveries(Job):
    """Send HR's chat replies and approved job answers (candor/dialogue/delivery.py)."""

    name = "chat_deliveries"
    interval = timedelta(seconds=5)

    async def run(self, runtime: Runtime) -> int:
        from candor.dialogue.delivery import deliver_due

        senders = build_senders(runtime.settings, runtime.redis, runtime.sessionmaker)
        try:
            return await deliver_due(runtime, senders)
        finally:
            await close_senders(senders)


DEFAULT_JOBS: tuple[Job, ...] = (
    PruneAtsEvents(),
    PruneIdempotencyKeys(),
    SlaWatch(),
    HrNotificationMail(),
    ChatDeliveries(),
)


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
    loop = asyncio.get_running_loop()
    states = {job.name: JobState() for job in jobs}
    while not stop.is_set():
        now = loop.time()
        for job in jobs:
            state = states[job.name]
            if state.next_run > now:
                continue
            try:
                handled = await run_job_once(runtime, job)
            except Exception:
                state.failures += 1
                delay = min(MAX_BACKOFF_S, 2.0**state.failures)
                log.exception("worker.job_failed", job=job.name, failures=state.failures)
                state.next_run = loop.time() + delay
                if once:
                    raise
                continue
            state.failures = 0
            state.runs += 1
            state.next_run = loop.time() + job.interval.total_seconds()
            log.info("worker.job_ran", job=job.name, handled=handled)
        if once:
            break
        wake = min(state.next_run for state in states.values()) - loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.1, min(wake, 5.0)))
    return states


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


async def run_worker_loops(runtime: Runtime, stop: asyncio.Event, *, once: bool = False) -> None:
    """The periodic jobs and the outbox dispatcher, until `stop` is set (or one pass)."""
    context = await _outreach_context(runtime, stop, once=once)
    if context is None:
        return
    await ensure_reference_data(runtime)
    senders = build_senders(runtime.settings, runtime.redis, runtime.sessionmaker)
    try:
        dispatcher = Dispatcher(runtime, senders, context)
        if once:
            await run_jobs(runtime, DEFAULT_JOBS, once=True, stop=stop)
            while await dispatcher.run_once():
                pass
        else:
            await asyncio.gather(
                run_jobs(runtime, DEFAULT_JOBS, once=False, stop=stop),
                dispatcher.run_forever(stop),
            )
    finally:
        await close_senders(senders)


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    """`candor worker`: run until SIGINT/SIGTERM."""
    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker.started", jobs=[job.name for job in DEFAULT_JOBS], once=once)
    async with open_runtime(settings) as runtime:
        await run_worker_loops(runtime, stop, once=once)
    log.info("worker.stopped")
