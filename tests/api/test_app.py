"""The app as the embedded default runs it: one process that also does the background work."""

from __future__ import annotations

import asyncio

from asgi_lifespan import LifespanManager
from sqlalchemy import update

from api.app import create_app
from candor.clock import utcnow
from candor.models.enums import Channel
from candor.models.outreach import OutboxItem
from candor.runtime import Runtime
from tests.fakes import running_fake_channel
from tests.outreach_world import World


async def due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))


async def test_with_worker_the_api_process_delivers_approved_messages(world: World) -> None:
    async with running_fake_channel() as fake:
        settings = world.runtime.settings.model_copy(update={"delivery_webhook_url": fake.url})
        runtime = Runtime(
            settings=settings,
            engine=world.runtime.engine,
            sessionmaker=world.runtime.sessionmaker,
            redis=world.runtime.redis,
        )
        app = create_app(runtime=runtime, with_worker=True)
        async with LifespanManager(app):
            await world.applicant(1, bind=[Channel.WECHAT])
            await world.decide(1, "advance")
            await due_now(world)  # whatever the hour in Shanghai, no quiet-hours deferral
            for _ in range(200):
                if fake.state.deliveries:
                    break
                await asyncio.sleep(0.05)

    assert [d["recipient"] for d in fake.state.deliveries] == ["wechat-user-1"]


async def test_without_worker_nothing_is_sent(world: World) -> None:
    async with running_fake_channel() as fake:
        settings = world.runtime.settings.model_copy(update={"delivery_webhook_url": fake.url})
        runtime = Runtime(
            settings, world.runtime.engine, world.runtime.sessionmaker, world.runtime.redis
        )
        async with LifespanManager(create_app(runtime=runtime)):
            await world.applicant(1, bind=[Channel.WECHAT])
            await world.decide(1, "advance")
            await due_now(world)
            await asyncio.sleep(1.0)

    assert fake.state.deliveries == []
