"""Every reply a result message invites is understood and kept, the candidate's consent
changes are honoured and audited, and answers come in the language of the question."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.conversation import ConversationGateway
from candor.audit.service import Action
from candor.models import AuditEntry, Candidate, ChatIdentity, HrTask, OutreachMessage
from candor.models.outreach import MessageState
from candor.outreach import service as outreach
from nlu.project import REPOSITORY_ROOT
from tests.dialogue_world import actions_of, bound_chat, result_sent, texts_of
from tests.outreach_world import World

TEMPLATES = sorted((REPOSITORY_ROOT / "data" / "templates").glob("*.yaml"))
_INVITED = re.compile(r"回复“([^”]+)”|reply \\?\"([^\"\\]+)\\?\"", re.IGNORECASE)
# What keeping each kind of promise looks like: the action the dialogue must run.
KEPT_BY = {
    "advance": {"action_confirm_next_round", "action_reschedule"},
    "reject": {"action_join_talent_pool", "action_explain_feedback"},
    "hold": set(),
}


def invited_replies(path: Path) -> list[str]:
    """The replies a template asks the candidate to send ("回复“确认”", 'reply "confirm"')."""
    document = yaml.safe_load(path.read_text("utf-8"))
    texts = [str(value) for value in document.values() if isinstance(value, str)]
    texts += [
        str(v) for value in document.values() if isinstance(value, dict) for v in value.values()
    ]
    return sorted({a or b for text in texts for a, b in _INVITED.findall(text)})


def test_the_templates_do_invite_replies() -> None:
    assert {r for path in TEMPLATES for r in invited_replies(path)} >= {
        "确认", "改期", "加入人才库", "反馈", "confirm", "reschedule", "join talent pool",
        "feedback",
    }  # fmt: skip


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
async def test_every_invited_reply_is_kept(
    path: Path, world: World, gateway: ConversationGateway
) -> None:
    outcome = path.stem.split(".")[0]
    replies = invited_replies(path)
    assert bool(replies) == bool(KEPT_BY[outcome])
    for n, reply in enumerate(replies, start=1):
        chat = await bound_chat(world, gateway, n)
        await result_sent(world, n, outcome)
        answer = await chat.say(reply)
        actions = actions_of(await chat.new_events())
        assert actions, reply
        assert actions[0] in KEPT_BY[outcome], (reply, actions)
        assert "没太理解" not in texts_of(answer), reply


async def test_joining_the_talent_pool_records_the_consent_and_audits_it(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await result_sent(world, 1, "reject")
    joined = texts_of(await chat.say("加入人才库"))
    assert "人才库" in joined
    async with world.runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == Action.CANDIDATE_CONSENT_CHANGED)
            )
        ).all()
    assert candidate is not None
    assert candidate.consent_talent_pool
    assert [(a.action, a.before, a.after) for a in audit] == [
        (Action.CANDIDATE_CONSENT_CHANGED, {"talent_pool": False}, {"talent_pool": True})
    ]
    # The next ATS update of the candidate does not take the consent back.
    await world.decide(1, "reject", version=2)
    async with world.runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
    assert candidate is not None
    assert candidate.consent_talent_pool


async def test_confirming_the_next_round_tells_hr_once(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await result_sent(world, 1, "advance")
    assert "下一轮" in texts_of(await chat.say("确认"))
    await chat.say("确认")
    async with world.runtime.sessionmaker() as session:
        confirmations = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == Action.NEXT_ROUND_CONFIRMED)
            )
        ).all()
        tasks = (await session.scalars(select(HrTask))).all()
    assert [(a.action, a.team_id) for a in confirmations] == [
        (Action.NEXT_ROUND_CONFIRMED, world.team.id)
    ]
    assert tasks == []


async def test_a_yes_with_nothing_to_confirm_is_only_acknowledged(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    assert "还有什么可以帮你" in texts_of(await chat.say("好的"))
    async with world.runtime.sessionmaker() as session:
        assert (await session.scalars(select(HrTask))).all() == []


async def test_stopping_every_proactive_message_keeps_results_readable_in_chat(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    asked = await chat.say("以后别给我发消息了")
    assert len(asked[-1].buttons) == 2  # which scope: the candidate named none
    await chat.say("所有渠道都不要再给我发任何消息了")
    async with world.runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == Action.CANDIDATE_CONSENT_CHANGED)
            )
        ).all()
    assert candidate is not None
    assert candidate.proactive_opted_out_at is not None
    assert [(a.action, a.after, a.details["channel"]) for a in audit] == [
        (Action.CANDIDATE_CONSENT_CHANGED, {"proactive_messages": False}, "web")
    ]

    await world.decide(1, "reject")
    context = await world.context()
    async with world.runtime.transaction() as session:
        draft = await session.scalar(select(OutreachMessage))
        assert draft is not None
        await outreach.approve(session, draft, context, actor="user:1")
    async with world.runtime.sessionmaker() as session:
        message = await session.scalar(select(OutreachMessage))
    assert message is not None
    assert message.state is MessageState.UNDELIVERABLE  # pushed nowhere
    shown = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "未通过" in shown

    # "订阅" resumes proactive messages, and says so in the audit log too.
    await chat.say("订阅")
    async with world.runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
    assert candidate is not None
    assert candidate.proactive_opted_out_at is None


async def test_naming_the_channel_written_on_stops_only_that_one(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    from candor.models.enums import Channel

    chat.channel = Channel.WEB
    await chat.say("网页这边别再给我发消息了，邮件可以")
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(select(ChatIdentity))
        candidate = await session.scalar(select(Candidate))
    # "网页" names no channel Candor knows by that word, so the scope is asked.
    assert identity is not None
    assert identity.opted_out_at is None
    assert candidate is not None
    assert candidate.proactive_opted_out_at is None


async def test_answers_come_in_the_language_of_the_question(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)  # a zh-CN candidate
    english = texts_of(await chat.say("Hi, any update on my interview result?"))
    assert "Your application" in english
    chinese = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "你申请的" in chinese
    assert "Your application" not in chinese
