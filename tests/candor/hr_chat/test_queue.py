"""The card queue gives up on a card the platform refuses for good instead of retrying it
every ten minutes up to MAX_ATTEMPTS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from candor.hr_chat.queue import MAX_ATTEMPTS
from candor.models import HrCard
from candor.models.enums import HrCardState
from candor.runtime import Runtime
from candor.settings import Settings
from tests.app_client import app_client
from tests.outreach_world import World
from tests.wecom_world import (
    RunningFakeWeCom,
    WeComMember,
    bind_wecom,
    cards_of,
    drain_cards,
    wecom_settings,
)


@pytest.fixture
def settings(settings: Settings, fake_wecom: RunningFakeWeCom) -> Settings:
    return wecom_settings(settings, fake_wecom.base)


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime) as client:
        yield client


async def test_a_refused_update_is_given_up_on_not_retried(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    li = WeComMember(http, fake, "li.na")
    await bind_wecom(runtime, li, world.recruiter)
    await world.applicant(1)
    await world.decide(1, "reject")
    assert await drain_cards(runtime) == 1
    # WeCom returned no response_code for this card: its update can never be sent.
    async with runtime.transaction() as session:
        await session.execute(update(HrCard).values(platform_ref=None))
    [card] = await cards_of(runtime)
    await li.click(card.token, "approve")
    assert (await cards_of(runtime))[0].update_pending

    assert await drain_cards(runtime) == 1  # claimed once, refused
    [card] = await cards_of(runtime)
    assert card.state is HrCardState.DECIDED
    assert not card.update_pending
    assert card.attempts == MAX_ATTEMPTS
    assert card.next_attempt_at is None
    assert card.last_error == "no response_code to update the card with"

    # Nothing is due any more, even once the old retry wait would have passed.
    async with runtime.transaction() as session:
        await session.execute(update(HrCard).values(next_attempt_at=None))
    assert await drain_cards(runtime) == 0  # not claimed again
    assert fake.updates() == []
    assert (await cards_of(runtime))[0].last_error == "no response_code to update the card with"
