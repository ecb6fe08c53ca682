"""The dispatcher's batch paths and how it rides out a database that goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select, update

from candor.delivery.ports import SendResult
from candor.models import ChatIdentity
from candor.models.enums import Channel
from candor.models.outreach import (
    MessageState,
    MessageTransition,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.runtime import Runtime
from candor.settings import Settings
from candor.worker import run_worker_loops
from tests.candor.outreach.conftest import webhook_dispatcher as dispatcher
from tests.fakes import RunningFakeChannel, free_port
from tests.outreach_world import World


async def due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=OutboxItem.created_at))


async def outbox(world: World) -> list[OutboxItem]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def messages(world: World) -> list[OutreachMessage]:
    async with world.runtime.sessionmaker() as session:
        query = select(OutreachMessage).order_by(OutreachMessage.id)
        return list((await session.scalars(query)).all())


async def test_one_batch_records_each_outcome_on_its_own_row(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    for n in range(1, 6):
        await world.applicant(n, bind=[Channel.WECHAT])
        await world.decide(n, "advance")
    await due_now(world)
    fake.state.scripts = {"wechat-user-2": [503], "wechat-user-4": [400]}
    worker = await dispatcher(world, fake, http)

    assert await worker.run_once() == 5

    rows = await outbox(world)
    states = [m.state for m in await messages(world)]
    assert len(fake.state.deliveries) == 3
    assert worker.stats.sent == 3
    assert states.count(MessageState.SENT) == 3
    assert states.count(MessageState.QUEUED) == 2  # one retrying, one falling back to e-mail
    async with world.runtime.sessionmaker() as session:
        sent_transitions = await session.scalars(
            select(MessageTransition).where(MessageTransition.to_state == MessageState.SENT)
        )
        assert {t.actor for t in sent_transitions} == {"system:dispatcher"}
    assert sorted((item.channel.value, item.state.value) for item in rows) == [
        ("email", "pending"),  # the fallback for the refused one
        ("wechat", "pending"),  # 503: retried later
        ("wechat", "permanent_failure"),
        ("wechat", "sent"),
        ("wechat", "sent"),
        ("wechat", "sent"),
    ]
    assert all(item.lease_until is None for item in rows)
    assert all(item.sent_at is not None for item in rows if item.state is OutboxState.SENT)


async def test_a_recipient_unbound_since_queueing_falls_back_without_a_send(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    async with world.runtime.transaction() as session:
        await session.execute(update(ChatIdentity).values(bound_at=None))
    await due_now(world)
    worker = await dispatcher(world, fake, http)

    await worker.run_once()
    await due_now(world)
    await worker.run_once()

    wechat, email = await outbox(world)
    assert (wechat.state, wechat.last_error) == (
        OutboxState.PERMANENT_FAILURE,
        "recipient no longer reachable",
    )
    assert email.state is OutboxState.SENT
    assert [d["channel"] for d in fake.state.deliveries] == ["email"]


async def test_a_database_hiccup_while_recording_is_retried_not_made_ambiguous(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    await due_now(world)
    worker = await dispatcher(world, fake, http)
    record_batch = worker.record_batch
    failures = 2

    async def flaky(outcomes: Sequence[tuple[int, SendResult]]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionRefusedError("the database is restarting")
        await record_batch(outcomes)

    worker.record_batch = flaky  # type: ignore[method-assign]
    await worker.run_once()

    [item] = await outbox(world)
    assert worker.stats.record_retries == 2
    assert (item.state, item.ambiguous) == (OutboxState.SENT, False)
    assert len(fake.state.deliveries) == 1


async def test_recording_gives_up_before_the_lease_ends_and_the_row_is_redelivered(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    await due_now(world)
    lease = timedelta(seconds=1)
    crashed = await dispatcher(world, fake, http, worker_id="crashed", lease=lease)
    survivor = await dispatcher(world, fake, http, worker_id="survivor")

    async def down(outcomes: Sequence[tuple[int, SendResult]]) -> None:
        raise ConnectionRefusedError("the database is down")

    crashed.record_batch = down  # type: ignore[method-assign]
    await crashed.run_once()
    [stuck] = await outbox(world)
    # run_once gave up within 0.8 of the lease after claiming; a whole lease later it is over.
    await asyncio.sleep(lease.total_seconds())
    await survivor.run_once()
    [item] = await outbox(world)

    assert (stuck.state, stuck.claimed_by) == (OutboxState.IN_FLIGHT, "crashed")
    assert (item.state, item.ambiguous, item.claimed_by) == (OutboxState.SENT, True, "survivor")
    assert survivor.stats.ambiguous == 1
    assert fake.state.duplicates() == 1  # the logged ambiguous redelivery


async def test_a_worker_started_while_the_database_is_down_waits_for_it() -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere",
        redis_url="memory://",
    )
    runtime = Runtime.create(settings)
    stop = asyncio.Event()
    try:
        with structlog.testing.capture_logs() as logs:
            loops = asyncio.create_task(run_worker_loops(runtime, {}, stop))
            await asyncio.sleep(1.5)
            waiting = not loops.done()
            stop.set()
            await asyncio.wait_for(loops, timeout=5)
    finally:
        await runtime.aclose()

    assert waiting
    assert any(entry["event"] == "worker.database_unavailable" for entry in logs)
