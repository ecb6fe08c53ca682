"""The one delivery loop, through its public interface and the real queues: sends have a
timeout, and each queue runs in its own task over the shared senders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.channels.webhook import WebhookChannel
from candor.clock import utcnow
from candor.delivery.direct import DirectQueue, queue_direct
from candor.delivery.loop import TIMED_OUT, DeliveryLoop, DeliveryQueue, Sending, run_round
from candor.models import ChatDelivery
from candor.models.dialogue import ChatDeliveryState
from candor.models.enums import Channel, Locale
from candor.models.outreach import OutboxItem, OutboxState
from candor.outreach.dispatcher import Dispatcher
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Longer than the slow provider's answer: the loop's own send timeout is what is tested.
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        yield client


async def queue_code_mail(world: World, to: str = "hanmeimei@example.com") -> None:
    async with world.runtime.transaction() as session:
        queue_direct(
            session,
            channel=Channel.EMAIL,
            recipient=to,
            subject="您的绑定验证码",
            body="验证码：123456",
            locale=Locale.ZH_CN,
            now=utcnow(),
        )


async def direct_rows(world: World) -> list[ChatDelivery]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(ChatDelivery))).all())


async def test_a_send_that_outlives_its_timeout_is_retried_later(
    world: World, http: httpx.AsyncClient
) -> None:
    async with running_fake_channel() as slow:
        slow.state.latency = 1.0
        await queue_code_mail(world)
        sending = Sending(
            {Channel.EMAIL: WebhookChannel(Channel.EMAIL, slow.url, client=http)},
            concurrency=4,
            timeout=0.1,
        )

        assert await run_round(DirectQueue(world.runtime), sending) == 1

    [row] = await direct_rows(world)
    assert row.state is ChatDeliveryState.PENDING
    assert row.last_error == TIMED_OUT
    assert row.next_attempt_at > utcnow()  # not claimed again at once
    assert row.attempts == 1


async def test_a_stuck_result_send_does_not_hold_up_a_chat_delivery(
    world: World, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, email=None, preferred_channels=["telegram"], bind=[Channel.TELEGRAM])
    await world.decide(1, "advance")
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))

    async with running_fake_channel() as slow, running_fake_channel() as quick:
        slow.state.latency = 6.0
        senders = {
            Channel.TELEGRAM: WebhookChannel(Channel.TELEGRAM, slow.url, client=http),
            Channel.EMAIL: WebhookChannel(Channel.EMAIL, quick.url, client=http),
        }
        queues: list[DeliveryQueue[Any]] = [
            Dispatcher(world.runtime, senders, await world.context()),
            DirectQueue(world.runtime),
        ]
        loop = DeliveryLoop(Sending(senders, concurrency=4), queues, idle_wait=0.05)
        stop = asyncio.Event()
        running = asyncio.create_task(loop.run_forever(stop))
        try:
            # The result is with its provider, which takes 6 s to answer ...
            await asyncio.wait_for(_until_received(slow), timeout=5)
            # ... and a code queued meanwhile goes out without waiting for that answer.
            await queue_code_mail(world)
            await asyncio.wait_for(_until_sent(world, quick), timeout=4)
            async with world.runtime.sessionmaker() as session:
                [item] = (await session.scalars(select(OutboxItem))).all()
            assert item.state is OutboxState.IN_FLIGHT
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=10)

    async with world.runtime.sessionmaker() as session:
        [item] = (await session.scalars(select(OutboxItem))).all()
    assert item.state is OutboxState.SENT  # the loop finished its round before stopping


async def _until_received(provider: RunningFakeChannel) -> None:
    while True:
        if provider.state.deliveries:
            return
        await asyncio.sleep(0.02)


async def _until_sent(world: World, provider: RunningFakeChannel) -> None:
    while True:
        rows = await direct_rows(world)
        if rows and rows[0].state is ChatDeliveryState.SENT:
            assert [d["recipient"] for d in provider.state.deliveries] == ["hanmeimei@example.com"]
            return
        await asyncio.sleep(0.02)
