"""Which events write approval cards, to whom, and how the card queue sends them: SLA
warnings for drafts still awaiting approval and hand-offs, besides new drafts (see
tests/api/routers/test_wecom.py for the click-through)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from candor.clock import utcnow
from candor.dialogue import service as dialogue
from candor.models import Conversation, OutreachMessage
from candor.models.enums import HrCardKind, Role
from candor.outreach.sla_watch import check_deadlines
from candor.runtime import Runtime
from candor.settings import Settings
from tests.app_client import app_client
from tests.candor.dialogue.test_hr import _conversations
from tests.outreach_world import World
from tests.wecom_world import (
    RunningFakeWeCom,
    WeComMember,
    bind_wecom,
    cards_of,
    drain_cards,
    speaks,
    wecom_settings,
)


@pytest.fixture
def settings(settings: Settings, fake_wecom: RunningFakeWeCom) -> Settings:
    return wecom_settings(settings, fake_wecom.base)


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime) as client:
        yield client


async def test_sla_warnings_and_handoffs_become_cards_for_bound_hr_only(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    await speaks(runtime, None, world.recruiter)  # Chinese, the default
    li = WeComMember(http, fake, "li.na")
    await bind_wecom(runtime, li, world.recruiter)
    lead, _ = await world.member(Role.TEAM_LEAD, world.team)  # not bound: no card for them

    await world.applicant(1)
    await world.decide(1, "reject")
    async with runtime.transaction() as session:
        await session.execute(update(OutreachMessage).values(due_at=utcnow() + timedelta(hours=20)))
        await check_deadlines(session, now=utcnow())
    kinds = [(c.kind, c.recipient_id) for c in await cards_of(runtime)]
    assert kinds == [
        (HrCardKind.DRAFT, world.recruiter.id),
        (HrCardKind.SLA_WARNING, world.recruiter.id),
    ]
    async with runtime.transaction() as session:  # a second check warns nobody again
        await check_deadlines(session, now=utcnow())
    assert len(await cards_of(runtime)) == 2

    [conversation_id] = await _conversations(world, 1, 1)
    async with runtime.transaction() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        await dialogue.open_handoff(session, conversation, reason="asked", now=utcnow())
    [handoff_card] = await cards_of(runtime, kind=HrCardKind.HANDOFF)
    assert handoff_card.recipient_id == world.recruiter.id

    assert await drain_cards(runtime) == 3
    sent = {c["template_card"]["task_id"]: c["template_card"] for c in fake.cards("li.na")}
    handoff = sent[handoff_card.token]
    assert [b.get("key") for b in handoff["button_list"]] == [None]  # open only
    assert handoff["button_list"][0]["url"].endswith(f"/console/conversations/{conversation_id}")
    assert "转人工" in handoff["main_title"]["title"]
    assert "无法处理" in await li.click(handoff_card.token, "approve")

    # Approving from the SLA warning decides the draft: both its cards show it.
    [warning] = await cards_of(runtime, kind=HrCardKind.SLA_WARNING)
    assert "已批准" in await li.click(warning.token, "approve")
    assert await drain_cards(runtime) == 2
    assert len(fake.updates()) == 2
    async with runtime.sessionmaker() as session:
        decided = (await session.scalars(select(OutreachMessage.decided_by))).all()
    assert decided == [f"user:{world.recruiter.id}"]
    assert lead.id not in {c.recipient_id for c in await cards_of(runtime)}
