"""What the dispatcher tests share: the fake provider and an HTTP client to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.channels.webhook import WebhookChannel
from candor.models.enums import Channel
from candor.outreach.dispatcher import Dispatcher
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def webhook_dispatcher(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient, **options: object
) -> Dispatcher:
    """A dispatcher whose every channel posts to the fake provider."""
    senders = {channel: WebhookChannel(channel, fake.url, client=http) for channel in Channel}
    return Dispatcher(world.runtime, senders, await world.context(), **options)  # type: ignore[arg-type]
