from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from candor.clock import utcnow
from candor.models import AtsEvent
from candor.models.outreach import OutreachMessage
from candor.runtime import Runtime
from candor.worker import DEFAULT_JOBS, Job, PruneAtsEvents, SlaWatch, run_job_once, run_jobs
from tests.outreach_world import World


def _event(event_id: str, age: timedelta) -> AtsEvent:
    return AtsEvent(
        event_id=event_id,
        event_type="stage_changed",
        body_sha256="0" * 64,
        response_status=200,
        response_body={},
        received_at=utcnow() - age,
    )


async def test_pruning_forgets_only_events_past_retention(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        session.add_all([_event("old", timedelta(days=91)), _event("new", timedelta(days=89))])

    handled = await run_job_once(runtime, PruneAtsEvents(retention=timedelta(days=90)))

    assert handled == 1
    async with runtime.sessionmaker() as session:
        assert (await session.scalars(select(AtsEvent.event_id))).all() == ["new"]


class SlowJob(Job):
    name = "slow"
    interval = timedelta(seconds=60)

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, runtime: Runtime) -> int:
        self.started.set()
        await self.release.wait()
        return 1


async def test_a_job_runs_on_one_worker_at_a_time(runtime: Runtime) -> None:
    job = SlowJob()
    first = asyncio.create_task(run_job_once(runtime, job))
    await job.started.wait()

    second = await run_job_once(runtime, job)
    job.release.set()

    assert second is None  # the other worker holds the lock
    assert await first == 1
    job.release.set()
    assert await run_job_once(runtime, job) == 1  # released: the next tick may run it


class FailingJob(Job):
    name = "failing"
    interval = timedelta(seconds=60)

    async def run(self, runtime: Runtime) -> int:
        raise ValueError("boom")


async def test_failures_are_raised_in_once_mode_not_swallowed(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="boom"):
        await run_jobs(runtime, (FailingJob(),), once=True, stop=asyncio.Event())


class HangingJob(Job):
    name = "hanging"
    interval = timedelta(seconds=60)
    timeout = timedelta(milliseconds=50)

    async def run(self, runtime: Runtime) -> int:
        await asyncio.sleep(10)
        return 0


async def test_a_hanging_job_is_cut_off_by_its_timeout(runtime: Runtime) -> None:
    with pytest.raises(TimeoutError):
        await run_job_once(runtime, HangingJob())
    # The lock was released, so the next tick can try again.
    job = SlowJob()
    job.release.set()
    assert await run_job_once(runtime, job) == 1


async def test_the_loop_counts_failures_and_keeps_going(runtime: Runtime) -> None:
    stop = asyncio.Event()
    loop_task = asyncio.create_task(run_jobs(runtime, (FailingJob(),), once=False, stop=stop))
    await asyncio.sleep(0.2)
    stop.set()

    states = await loop_task

    assert states["failing"].failures >= 1
    assert states["failing"].runs == 0


async def test_the_sla_watch_is_a_default_job_that_stamps_breaches(world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")  # due 2026-03-10, long past, waiting for approval

    handled = await run_job_once(world.runtime, SlaWatch())

    assert any(isinstance(job, SlaWatch) for job in DEFAULT_JOBS)
    assert handled == 2  # the message breached, and its recruiter told
    async with world.runtime.sessionmaker() as session:
        [breached_at] = (await session.scalars(select(OutreachMessage.breached_at))).all()
    assert breached_at is not None


class TickingJob(Job):
    name = "ticking"
    interval = timedelta(milliseconds=10)

    def __init__(self, enough: int) -> None:
        self.runs = 0
        self.enough = enough
        self.done = asyncio.Event()

    async def run(self, runtime: Runtime) -> int:
        self.runs += 1
        if self.runs >= self.enough:
            self.done.set()
        return 0


async def test_a_slow_job_does_not_hold_up_the_others(runtime: Runtime) -> None:
    slow, ticking = SlowJob(), TickingJob(enough=5)
    stop = asyncio.Event()
    loops = asyncio.create_task(run_jobs(runtime, (slow, ticking), once=False, stop=stop))
    try:
        await asyncio.wait_for(slow.started.wait(), timeout=5)
        # While the slow job is still running, the other keeps its own schedule.
        await asyncio.wait_for(ticking.done.wait(), timeout=5)
        assert not slow.release.is_set()
    finally:
        slow.release.set()
        stop.set()
        states = await asyncio.wait_for(loops, timeout=5)
    assert states["slow"].runs == 1
    assert states["ticking"].runs >= 5
