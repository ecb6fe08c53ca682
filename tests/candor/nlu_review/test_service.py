from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation import ConversationGateway
from candor.audit.service import Action
from candor.auth.principals import HRPrincipal, load_principal
from candor.clock import utcnow
from candor.models import AuditEntry, ChatMessage, MisreadMessage
from candor.models.chat import Direction
from candor.models.enums import Role
from candor.models.nlu_review import MisreadReason, ReviewState
from candor.nlu_review import service
from candor.nlu_review.service import Verdict
from tests.candor.nlu_review.world import ADMIN, conversation, decide, queue
from tests.dialogue_world import bound_chat
from tests.outreach_world import World


async def principal(world: World, user_id: int) -> HRPrincipal:
    async with world.runtime.sessionmaker() as session:
        found = await load_principal(session, user_id)
    assert found is not None
    return found


async def items(world: World) -> list[MisreadMessage]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(MisreadMessage))).all())


async def test_a_message_is_queued_once_masked_collecting_its_reasons(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    said = "我是李雷 手机13812345678 那个东西到底咋样了"
    await chat.say(said)
    conversation_id = await chat.conversation_id()
    for reason in ("fallback", "followed_by_complaint", "fallback"):
        await queue(world, conversation_id, said, reason=reason)
    await queue(world, conversation_id, "/affirm")  # a button's payload: not the NLU's
    await queue(world, conversation_id, "   ")

    [item] = await items(world)
    async with world.runtime.sessionmaker() as session:
        inbound = await session.scalar(
            select(ChatMessage.id).where(
                ChatMessage.conversation_id == conversation_id,
                ChatMessage.direction == Direction.INBOUND,
                ChatMessage.text == said,
            )
        )
    assert item.chat_message_id == inbound
    assert item.dedupe_key == f"message:{inbound}"
    assert {"fallback", "followed_by_complaint"} <= set(item.reasons)
    assert item.text == "我是某某 手机13000000000 那个东西到底咋样了"
    assert item.state is ReviewState.PENDING
    assert item.ranking[0] == {"name": "nlu_fallback", "confidence": 0.5}


async def test_text_missing_from_the_transcript_is_queued_once_per_conversation(
    world: World,
) -> None:
    first = await conversation(world, 1)
    second = await conversation(world, 2)
    await queue(world, first, "能不能快点", reason="handoff_after_misread")
    await queue(world, first, "能不能快点！", reason="fallback")  # the same text, folded
    await queue(world, second, "能不能快点")

    queued = await items(world)
    assert len(queued) == 2
    mine = next(i for i in queued if i.conversation_id == first)
    assert mine.chat_message_id is None
    assert mine.reasons == ["handoff_after_misread", "fallback"]


async def test_an_unknown_reason_is_a_programming_error(world: World) -> None:
    conversation_id = await conversation(world, 1)
    with pytest.raises(ValueError, match="not_a_reason"):
        await queue(world, conversation_id, "在吗", reason="not_a_reason")


async def test_reviewers_see_the_messages_of_their_teams_only(world: World) -> None:
    ours = await queue(world, await conversation(world, 1, team="team-a"), "这个咋整")
    theirs = await queue(world, await conversation(world, 2, team="team-b"), "那个咋整")
    recruiter = await principal(world, world.recruiter.id)
    outsider = await principal(world, world.outsider.id)
    admin = HRPrincipal(user_id=1, role=Role.ADMIN, team_ids=frozenset())

    async with world.runtime.sessionmaker() as session:
        assert [r.item.id for r in await service.review_queue(session, recruiter)] == [ours]
        assert [r.item.id for r in await service.review_queue(session, outsider)] == [theirs]
        assert {r.item.id for r in await service.review_queue(session, admin)} == {ours, theirs}
        assert (await service.queue_counts(session, recruiter))[ReviewState.PENDING] == 1
        assert await service.visible_item(session, recruiter, theirs) is None
        assert await service.visible_item(session, outsider, ours) is None
        assert await service.visible_item(session, recruiter, 999_999) is None
        assert await service.visible_item(session, recruiter, ours) is not None


async def test_the_queue_filters_by_state_and_reason(world: World, steady_dir: Path) -> None:
    conversation_id = await conversation(world, 1)
    unsure = await queue(world, conversation_id, "这个咋整", reason="fallback")
    complained = await queue(world, conversation_id, "你们啥意思", reason="followed_by_complaint")
    await decide(world, unsure, Verdict.DISMISS, blind_dir=steady_dir)
    recruiter = await principal(world, world.recruiter.id)

    async with world.runtime.sessionmaker() as session:
        pending = await service.review_queue(session, recruiter)
        dismissed = await service.review_queue(session, recruiter, state=ReviewState.DISMISSED)
        by_reason = await service.review_queue(
            session, recruiter, reason=MisreadReason.FOLLOWED_BY_COMPLAINT
        )
        none_left = await service.review_queue(session, recruiter, reason=MisreadReason.FALLBACK)
    assert [r.item.id for r in pending] == [complained]
    assert [r.item.id for r in dismissed] == [unsure]
    assert [r.item.id for r in by_reason] == [complained]
    assert none_left == []
    assert pending[0].best_guess == "human_handoff"


async def test_verdicts_are_audited_final_and_can_be_reopened(
    world: World, steady_dir: Path
) -> None:
    conversation_id = await conversation(world, 1)
    first = await queue(world, conversation_id, "offer咋还没消息")
    second = await queue(world, conversation_id, "能换个时间吗我那天有考试")
    third = await queue(world, conversation_id, "🙂🙂")
    recruiter = await principal(world, world.recruiter.id)

    approved = await decide(
        world, first, Verdict.APPROVE, intent="ask_progress", blind_dir=steady_dir,
        principal=recruiter,
    )  # fmt: skip
    await decide(world, second, Verdict.NEW_INTENT, blind_dir=steady_dir, principal=recruiter)
    await decide(world, third, Verdict.DISMISS, blind_dir=steady_dir, principal=recruiter)
    with pytest.raises(service.AlreadyReviewedError) as refused:
        await decide(world, first, Verdict.DISMISS, blind_dir=steady_dir, principal=recruiter)
    assert refused.value.http_status == 409
    assert "approved as ask_progress" in str(refused.value)

    async with world.runtime.transaction() as session:
        item = await service.visible_item(session, recruiter, second)
        assert item is not None
        await service.reopen(session, item, actor=recruiter.actor, now=utcnow())
    async with world.runtime.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor == recruiter.actor)
                .order_by(AuditEntry.id)
            )
        ).all()
        reopened = await session.get_one(MisreadMessage, second)
    assert approved.intent == "ask_progress"
    assert approved.decided_by == recruiter.actor
    assert [row.action for row in rows] == [
        Action.NLU_REVIEW_INTENT_ASSIGNED,
        Action.NLU_REVIEW_NEW_INTENT,
        Action.NLU_REVIEW_DISMISSED,
        Action.NLU_REVIEW_REOPENED,
    ]
    assert rows[0].object_type == "nlu_review_item"
    assert rows[0].object_id == str(first)
    assert rows[0].team_id == world.team.id
    assert (rows[0].before or {}).get("state") == "pending"
    assert (rows[0].after or {}).get("intent") == "ask_progress"
    assert reopened.state is ReviewState.PENDING
    assert reopened.intent is None


@pytest.mark.parametrize(
    ("text", "intent", "problem"),
    [
        ("offer咋还没消息", "", "choose the intent"),
        ("offer咋还没消息", "nlu_fallback", "not an intent of domain.yml"),
        ("offer咋还没消息", "ask_salary_now", "not an intent of domain.yml"),
        ("。。。", "ask_progress", "nothing to learn from"),
        ("我的[编号](application_code)呢", "ask_progress", "entity annotation"),
    ],
)
async def test_an_approval_rasa_could_not_train_on_is_refused(
    world: World, steady_dir: Path, text: str, intent: str, problem: str
) -> None:
    item_id = await queue(world, await conversation(world, 1), text)
    with pytest.raises(service.ReviewError, match=problem) as refused:
        await decide(world, item_id, Verdict.APPROVE, intent=intent, blind_dir=steady_dir)
    assert refused.value.http_status == 422
    [item] = await items(world)
    assert item.state is ReviewState.PENDING


async def test_a_blind_set_text_is_never_approved(world: World, steady_dir: Path) -> None:
    first_line = (steady_dir / "steady.jsonl").read_text("utf-8").splitlines()[0]
    text = json.loads(first_line)["text"]
    item_id = await queue(world, await conversation(world, 1), f"  {text.upper()}！！ ")
    with pytest.raises(service.BlindSetTextError, match=r"steady\.jsonl"):
        await decide(world, item_id, Verdict.APPROVE, intent="greet", blind_dir=steady_dir)
    dismissed = await decide(world, item_id, Verdict.DISMISS, blind_dir=steady_dir)
    assert dismissed.state is ReviewState.DISMISSED


async def test_control_characters_are_not_stored(world: World) -> None:
    """PostgreSQL's text cannot hold NUL; nothing a reviewer needs is lost."""
    await queue(world, await conversation(world, 1), "\x00结果\x07呢\x1b[31m ")
    [item] = await items(world)
    assert item.text == "结果呢[31m"


async def test_without_the_blind_sets_only_an_approval_is_refused(world: World) -> None:
    conversation_id = await conversation(world, 1)
    first = await queue(world, conversation_id, "offer咋还没消息")
    second = await queue(world, conversation_id, "这个咋整")
    async with world.runtime.transaction() as session:
        for item_id, verdict in ((first, Verdict.APPROVE), (second, Verdict.DISMISS)):
            item = await service.visible_item(session, ADMIN, item_id)
            assert item is not None
            if verdict is Verdict.APPROVE:
                with pytest.raises(service.ReviewError, match="blind evaluation sets"):
                    await service.review(
                        session, item, verdict=verdict, intent="ask_progress", note="",
                        blind=None, actor=ADMIN.actor, now=utcnow(),
                    )  # fmt: skip
            else:
                await service.review(
                    session, item, verdict=verdict, intent=None, note="",
                    blind=None, actor=ADMIN.actor, now=utcnow(),
                )  # fmt: skip
    assert {i.id: i.state for i in await items(world)} == {
        first: ReviewState.PENDING,
        second: ReviewState.DISMISSED,
    }
