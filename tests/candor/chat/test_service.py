"""Rate limits on anonymous chat and binding, through the conversation gateway, on an
injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.conversation import ConversationGateway
from candor.chat import limits
from candor.models import ChatDelivery
from candor.models.enums import Channel
from candor.runtime import Runtime
from tests.candor.chat.test_binding import START, Clock, joined, says
from tests.outreach_world import World


async def emails_queued(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        found = select(func.count()).where(ChatDelivery.channel == Channel.EMAIL)
        return int(await session.scalar(found) or 0)


async def test_an_anonymous_chat_account_is_slowed_down_then_heard_again(world: World) -> None:
    clock = Clock(START)
    gateway = ConversationGateway(world.runtime, clock=clock)
    allowed = limits.ANON_MESSAGES_PER_ACCOUNT.limit

    answers = [
        joined(await gateway.handle(says("tg-9", "你好", at=clock.at))) for _ in range(allowed + 1)
    ]
    other = joined(await gateway.handle(says("tg-10", "你好", at=clock.at)))

    assert len(set(answers[:allowed])) == 1
    assert "分钟后再试" in answers[-1]
    assert "try again in 1 min" in answers[-1]  # both languages: the account is anonymous
    assert other == answers[0]  # another account is not affected
    clock.at += limits.ANON_MESSAGES_PER_ACCOUNT.window
    assert joined(await gateway.handle(says("tg-9", "你好", at=clock.at))) == answers[0]


async def test_the_limits_hold_across_api_processes_on_one_redis(world: World) -> None:
    if world.runtime.settings.uses_embedded_redis:
        pytest.skip("an in-process Redis serves one process")
    await world.applicant(1)
    app = await world.application(1)
    second_process = Runtime.create(world.runtime.settings)  # its own pools, same servers
    clock = Clock(START)
    gateways = [
        ConversationGateway(world.runtime, clock=clock),
        ConversationGateway(second_process, clock=clock),
    ]
    allowed = limits.CODE_REQUESTS_PER_ACCOUNT.limit
    try:
        answers = []
        for attempt in range(allowed + 2):
            clock.at = START + timedelta(minutes=2 * attempt)  # past the one-a-minute rule
            gateway = gateways[attempt % 2]
            asked = says("tg-1", f"绑定 {app.code} lilei@example.com", at=clock.at)
            answers.append(joined(await gateway.handle(asked)))
    finally:
        await second_process.aclose()

    assert await emails_queued(world) == allowed
    assert len(set(answers[:allowed])) == 1
    assert all("分钟后再试" in answer for answer in answers[allowed:])
