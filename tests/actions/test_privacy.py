"""Asking in chat to have one's data deleted, through the real gateway and embedded engine."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.conversation import ConversationGateway
from candor.clock import utcnow
from candor.models import AuditEntry, DeletionRequest
from candor.models.privacy import DeletionState
from tests.dialogue_world import Chat, actions_of, bound_chat, result_sent, texts_of
from tests.outreach_world import World


async def requests(world: World) -> list[DeletionRequest]:
    async with world.runtime.sessionmaker() as session:
        return list(await session.scalars(select(DeletionRequest).order_by(DeletionRequest.id)))


async def test_a_bound_candidate_asks_confirms_with_a_button_and_the_cooling_off_starts(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)

    replies = await chat.say("删除我的数据")

    assert actions_of(await chat.new_events()) == ["action_request_data_deletion"]
    assert "冷静期" in texts_of(replies)
    assert [b.payload for b in replies[-1].buttons] == ["/affirm", "/deny"]
    (asked,) = await requests(world)
    assert asked.state is DeletionState.AWAITING_CONFIRMATION

    replies = await chat.press("/affirm")

    assert actions_of(await chat.new_events()) == ["action_answer_data_deletion"]
    assert "已收到你的删除申请" in texts_of(replies)
    (confirmed,) = await requests(world)
    assert confirmed.state is DeletionState.PENDING
    assert confirmed.erase_after is not None
    days = world.runtime.settings.privacy_deletion_cooling_off_days
    assert abs(confirmed.erase_after - (utcnow() + timedelta(days=days))) < timedelta(minutes=1)
    async with world.runtime.sessionmaker() as session:
        audited = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.deletion_requested")
        )
    assert audited is not None
    assert audited.actor == "candidate"


async def test_a_typed_yes_confirms_in_english_too(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)

    await chat.say("please delete my personal data")
    replies = await chat.say("yes")

    assert "deletion request is in" in texts_of(replies)
    assert [r.state for r in await requests(world)] == [DeletionState.PENDING]


async def test_an_unbound_chat_gets_nothing_and_opens_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1)
    stranger = Chat(world, gateway, "web-nobody")

    replies = await stranger.say("删除我的数据")

    said = texts_of(replies)
    assert "冷静期" not in said
    assert "AP-2026-000001" not in said
    assert "李雷" not in said
    assert await requests(world) == []


async def test_asking_again_during_the_cooling_off_offers_to_cancel_it(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("删除我的数据")
    await chat.press("/affirm")

    replies = await chat.say("请把我的个人信息全部删掉")

    assert "要取消这个申请吗" in texts_of(replies)
    assert len(await requests(world)) == 1
    replies = await chat.press("/affirm")
    assert "已取消删除申请" in texts_of(replies)
    assert [r.state for r in await requests(world)] == [DeletionState.CANCELLED]


async def test_confirming_after_the_time_to_confirm_is_refused(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("删除我的数据")
    async with world.runtime.transaction() as session:
        await session.execute(
            update(DeletionRequest).values(confirm_by=utcnow() - timedelta(seconds=1))
        )

    replies = await chat.press("/affirm")

    assert "已过确认时限" in texts_of(replies)
    assert [r.state for r in await requests(world)] == [DeletionState.EXPIRED]


async def test_no_keeps_everything(world: World, gateway: ConversationGateway) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("删除我的数据")

    replies = await chat.press("/deny")

    assert "不删除" in texts_of(replies)
    assert [r.state for r in await requests(world)] == [DeletionState.CANCELLED]


async def test_a_yes_to_a_result_sent_after_the_question_does_not_confirm_the_deletion(
    world: World, gateway: ConversationGateway
) -> None:
    # Asked, not answered; then the advance result asks them to reply "确认": that 确认
    # answers the result, not the deletion question still last in the dialogue.
    chat = await bound_chat(world, gateway, 1)
    await chat.say("删除我的数据")
    await result_sent(world, 1, "advance")

    replies = await chat.say("确认")

    said = texts_of(replies)
    assert "已收到你的删除申请" not in said
    assert "尚未确认" in said
    assert [r.state for r in await requests(world)] == [DeletionState.AWAITING_CONFIRMATION]
    async with world.runtime.sessionmaker() as session:
        confirmed = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.deletion_requested")
        )
    assert confirmed is None
    # Asking again asks again, and the answer to that question counts.
    await chat.say("删除我的数据")
    assert "已收到你的删除申请" in texts_of(await chat.press("/affirm"))
    assert [r.state for r in await requests(world)] == [DeletionState.PENDING]


async def test_a_yes_to_a_result_does_not_cancel_a_pending_deletion(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("删除我的数据")
    await chat.press("/affirm")
    await chat.say("删除我的数据")  # offered to cancel it, not answered
    await result_sent(world, 1, "advance")

    replies = await chat.say("确认")

    assert "已取消删除申请" not in texts_of(replies)
    assert [r.state for r in await requests(world)] == [DeletionState.PENDING]
