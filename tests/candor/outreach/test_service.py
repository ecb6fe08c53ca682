from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from candor.clock import BUSINESS_TZ
from candor.models.enums import Channel, Decision
from candor.models.outreach import (
    ApprovalMode,
    ApprovalRule,
    MessageState,
    MessageTransition,
    OutboxItem,
    OutreachMessage,
)
from candor.outreach import service
from candor.outreach.errors import InvalidMessageTransitionError
from candor.outreach.service import QuietHours
from candor.outreach.templating import TemplateValidationError
from tests.outreach_world import World


async def messages(world: World) -> list[OutreachMessage]:
    async with world.runtime.sessionmaker() as session:
        return list(
            (await session.scalars(select(OutreachMessage).order_by(OutreachMessage.id))).all()
        )


async def outbox(world: World) -> list[OutboxItem]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def history(world: World, message_id: int) -> list[tuple[str | None, str, str]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(
                MessageTransition.from_state, MessageTransition.to_state, MessageTransition.actor
            )
            .where(MessageTransition.message_id == message_id)
            .order_by(MessageTransition.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_an_advance_is_auto_approved_and_queued_on_the_first_reachable_channel(
    world: World,
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")

    [message] = await messages(world)
    [item] = await outbox(world)

    assert message.state is MessageState.QUEUED
    assert message.outcome is Decision.ADVANCE
    assert "3月12日 14:00 现场面试" in message.body
    # Completed Tue 2026-03-03: Wed 4, Thu 5, Fri 6, Mon 9, Tue 10 are the 5 working days.
    assert message.due_at == datetime(2026, 3, 10, 23, 59, 59, tzinfo=BUSINESS_TZ)
    assert not message.due_estimated
    assert item.channel is Channel.WECHAT
    application = await world.application(1)
    assert item.idempotency_key == f"{application.id}:1:wechat"
    assert await history(world, message.id) == [
        (None, "pending_approval", "system:drafting"),
        ("pending_approval", "approved", "system:auto-approval"),
        ("approved", "queued", "system:auto-approval"),
    ]


async def test_a_rejection_waits_for_hr_with_constructive_feedback(world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")

    [message] = await messages(world)

    assert message.state is MessageState.PENDING_APPROVAL
    assert await outbox(world) == []
    assert "· 沟通" in message.body
    assert "· 学习" in message.body
    assert "第四条" not in message.body  # at most three strengths
    assert "· 系统设计" in message.body
    assert "人才库" in message.body
    assert message.wechat_data["keyword1"] == "后端工程师"


async def test_the_english_template_serves_an_english_speaking_candidate(world: World) -> None:
    await world.applicant(1, locale="en", name="Alice Smith")
    await world.decide(1, "reject")

    [message] = await messages(world)

    assert message.body.startswith("Dear Alice Smith,")


async def test_a_replayed_result_drafts_nothing_new(world: World) -> None:
    await world.applicant(1)
    first = await world.decide(1, "reject")
    replay = await world.decide(1, "reject")

    assert replay == first
    assert len(await messages(world)) == 1


async def test_a_newer_result_supersedes_an_unapproved_draft(world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    await world.decide(1, "advance", version=2)

    stale, current = await messages(world)

    assert stale.state is MessageState.REJECTED
    assert stale.rejection_reason == "superseded by a newer result"
    assert (current.result_version, current.state) == (2, MessageState.QUEUED)


async def test_no_consent_to_contact_is_never_queued(world: World) -> None:
    await world.applicant(1, consent_contact=False)
    await world.decide(1, "advance")

    [message] = await messages(world)

    assert message.state is MessageState.UNDELIVERABLE
    assert await outbox(world) == []


async def test_a_candidate_with_no_reachable_channel_is_undeliverable(world: World) -> None:
    await world.applicant(1, email=None, preferred_channels=["telegram"])
    await world.decide(1, "advance")

    [message] = await messages(world)

    assert message.state is MessageState.UNDELIVERABLE


async def test_the_most_specific_approval_rule_wins(world: World) -> None:
    async with world.runtime.transaction() as session:
        session.add(
            ApprovalRule(
                outcome=Decision.REJECT,
                team_id=None,
                job_id=None,
                mode=ApprovalMode.REQUIRE_APPROVAL,
            )
        )
        session.add(
            ApprovalRule(
                outcome=Decision.REJECT, team_id=world.team.id, job_id=None, mode=ApprovalMode.AUTO
            )
        )
    await world.applicant(1)
    await world.applicant(2, team="team-b")
    await world.decide(1, "reject")
    await world.decide(2, "reject")

    ours, theirs = await messages(world)

    assert ours.state is MessageState.QUEUED
    assert theirs.state is MessageState.PENDING_APPROVAL


async def test_edit_and_approve_records_the_text_before_and_after(world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    context = await world.context()
    [draft] = await messages(world)

    async with world.runtime.transaction() as session:
        message = await session.get_one(OutreachMessage, draft.id)
        await service.approve(session, message, context, actor="user:7", edited_body="改过的正文")

    [approved] = await messages(world)
    async with world.runtime.sessionmaker() as session:
        edit = await session.scalar(
            select(MessageTransition).where(
                MessageTransition.to_state == MessageState.EDITED_AND_APPROVED
            )
        )
    assert approved.state is MessageState.QUEUED
    assert approved.body == "改过的正文"
    assert approved.decided_by == "user:7"
    assert edit is not None
    assert edit.before_text == draft.body
    assert edit.after_text == "改过的正文"
    assert len(await outbox(world)) == 1


async def test_edited_text_with_template_markup_is_refused_and_nothing_changes(
    world: World,
) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    context = await world.context()
    [draft] = await messages(world)

    async def approve_with_markup() -> None:
        async with world.runtime.transaction() as session:
            message = await session.get_one(OutreachMessage, draft.id)
            await service.approve(
                session, message, context, actor="user:7", edited_body="{{ candidate_name }}"
            )

    with pytest.raises(TemplateValidationError):
        await approve_with_markup()

    [unchanged] = await messages(world)
    assert unchanged.state is MessageState.PENDING_APPROVAL
    assert unchanged.body == draft.body


async def test_a_decided_message_cannot_be_approved_twice(world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    [draft] = await messages(world)
    async with world.runtime.transaction() as session:
        message = await session.get_one(OutreachMessage, draft.id)
        await service.reject(session, message, actor="user:7", reason="语气需要调整")

    context = await world.context()

    async def approve_again() -> None:
        async with world.runtime.transaction() as session:
            message = await session.get_one(OutreachMessage, draft.id)
            await service.approve(session, message, context, actor="user:7")

    with pytest.raises(InvalidMessageTransitionError, match="is rejected"):
        await approve_again()


local_times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@given(at=local_times)
def test_quiet_hours_defer_to_the_next_morning_and_never_earlier(at: datetime) -> None:
    quiet = QuietHours(start=time(21, 0), end=time(8, 0))

    allowed = quiet.next_allowed(at)
    local = allowed.astimezone(BUSINESS_TZ).time()

    assert allowed >= at
    assert allowed - at <= timedelta(hours=11)
    assert time(8, 0) <= local < time(21, 0)
    if time(8, 0) <= at.astimezone(BUSINESS_TZ).time() < time(21, 0):
        assert allowed == at
