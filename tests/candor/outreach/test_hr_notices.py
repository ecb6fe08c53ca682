"""HR is told when a decided result reaches the candidate on no channel."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from candor.clock import utcnow
from candor.models.enums import Channel, Role
from candor.models.outreach import (
    MessageState,
    OutboxItem,
    OutreachMessage,
    SlaNotification,
    SlaNotificationKind,
)
from candor.outreach.hr_notices import notify_undeliverable
from tests.candor.outreach.conftest import webhook_dispatcher
from tests.fakes import RunningFakeChannel
from tests.outreach_world import World

Notice = tuple[SlaNotificationKind, int, int]  # kind, recipient, message


async def notices(world: World) -> list[Notice]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(
                SlaNotification.kind, SlaNotification.recipient_id, SlaNotification.message_id
            ).order_by(SlaNotification.id)
        )
        return [(kind, recipient, message) for kind, recipient, message in rows.all()]


async def the_message(world: World) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return (await session.scalars(select(OutreachMessage))).one()


async def test_the_dispatcher_tells_the_recruiter_when_every_channel_refuses(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    fake.state.scripts = {"wechat-user-1": [403], "lilei@example.com": [400]}
    worker = await webhook_dispatcher(world, fake, http)
    for _ in range(2):  # WeChat refuses, then e-mail
        async with world.runtime.transaction() as session:
            await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
        await worker.run_once()

    message = await the_message(world)
    assert message.state is MessageState.UNDELIVERABLE
    assert await notices(world) == [
        (SlaNotificationKind.UNDELIVERABLE, world.recruiter.id, message.id)
    ]


async def test_a_candidate_with_no_reachable_channel_is_reported_at_once(world: World) -> None:
    await world.applicant(1, email=None, preferred_channels=["telegram"])
    await world.decide(1, "advance")

    message = await the_message(world)
    assert message.state is MessageState.UNDELIVERABLE
    assert await notices(world) == [
        (SlaNotificationKind.UNDELIVERABLE, world.recruiter.id, message.id)
    ]


async def test_no_consent_to_contact_is_reported_too(world: World) -> None:
    await world.applicant(1, consent_contact=False)
    await world.decide(1, "advance")

    message = await the_message(world)
    assert await notices(world) == [
        (SlaNotificationKind.UNDELIVERABLE, world.recruiter.id, message.id)
    ]


async def test_each_hr_user_is_told_once_however_often_it_is_reported(world: World) -> None:
    await world.applicant(1, email=None, preferred_channels=["telegram"])
    await world.decide(1, "advance")

    async with world.runtime.transaction() as session:
        message = (await session.scalars(select(OutreachMessage))).one()
        again = await notify_undeliverable(session, message, reason="again", now=utcnow())

    assert again == []
    assert len(await notices(world)) == 1


async def test_without_a_recruiter_the_team_lead_is_told(world: World) -> None:
    async with world.runtime.transaction() as session:
        recruiter = await session.merge(world.recruiter)
        recruiter.is_active = False
    lead, _ = await world.member(Role.TEAM_LEAD, world.team)
    await world.applicant(1, email=None, preferred_channels=["telegram"])
    await world.decide(1, "advance")

    message = await the_message(world)
    assert await notices(world) == [(SlaNotificationKind.UNDELIVERABLE, lead.id, message.id)]
