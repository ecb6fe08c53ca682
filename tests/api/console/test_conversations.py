"""The console's Conversations section: the handoff queue, HR's reply and hand-back, the
transcript across channels, unbinding, drafted job answers, HR tasks and escalations.

Conversations are driven through the real gateway and embedded engine; HR acts through
the console's forms; what reaches the candidate is checked at the fake channel server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.registry import build_senders
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.clock import utcnow
from candor.delivery.direct import deliver_due
from candor.delivery.ports import ChannelSender, close_senders
from candor.dialogue.service import save_answer
from candor.models import (
    AuditEntry,
    ChatIdentity,
    ChatMessage,
    Handoff,
    HrTask,
    IdentityEvent,
    JobQuestion,
    OutboxItem,
    OutreachMessage,
)
from candor.models.chat import IdentityAction
from candor.models.dialogue import JobQuestionState
from candor.models.enums import Channel, Locale, Role
from candor.models.outreach import MessageState, OutboxState
from candor.outreach.sla_watch import check_deadlines
from nlu.model import NluModel
from tests.console_world import logged_in, post_form
from tests.dialogue_world import Chat, nlu_model
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World

__all__ = ["nlu_model"]
HUMAN_PLEASE = "帮我转一下人工吧"


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


@pytest.fixture
async def senders(
    world: World, fake: RunningFakeChannel
) -> AsyncIterator[dict[Channel, ChannelSender]]:
    settings = world.runtime.settings.model_copy(update={"delivery_webhook_url": fake.url})
    built = build_senders(settings)
    yield built
    await close_senders(built)


async def chat_of(
    world: World,
    nlu_model: NluModel,
    n: int,
    channel: Channel = Channel.TELEGRAM,
    *,
    team: str = "team-a",
    also: tuple[Channel, ...] = (),
) -> Chat:
    """Candidate n applied in `team` and bound an account on `channel` (and on `also`)."""
    await world.applicant(n, team=team, bind=[channel, *also])
    gateway = ConversationGateway(
        world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model)
    )
    return Chat(world, gateway, f"{channel.value}-user-{n}", channel=channel)


async def candidate_id(world: World, n: int) -> int:
    return (await world.application(n)).candidate_id


async def audit(world: World, action: str) -> list[AuditEntry]:
    async with world.runtime.sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def open_handoffs(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        query = select(func.count()).select_from(Handoff).where(Handoff.closed_at.is_(None))
        return int(await session.scalar(query) or 0)


# -- the handoff queue, reply and hand-back ------------------------------------------------


async def test_the_queue_shows_my_teams_conversations_waiting_for_a_person(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    mine = await chat_of(world, nlu_model, 1)
    theirs = await chat_of(world, nlu_model, 2, team="team-b")
    await mine.say(HUMAN_PLEASE)
    await theirs.say(HUMAN_PLEASE)
    await logged_in(console, world.runtime, world.recruiter.id)

    queue = await console.get("/console/conversations")

    assert queue.status_code == 200
    assert f'id="handoff-{await mine.conversation_id()}"' in queue.text
    assert f'id="handoff-{await theirs.conversation_id()}"' not in queue.text
    assert HUMAN_PLEASE in queue.text
    assert "Telegram" in queue.text
    assert 'href="/console/conversations"' in queue.text  # the nav link
    # The conversation's link leads to its candidate's page.
    answer = await console.get(f"/console/conversations/{await mine.conversation_id()}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(
        f"/console/candidates/{await candidate_id(world, 1)}#c"
    )


async def test_a_reply_reaches_the_candidates_channel_after_commit_and_is_audited(
    console: httpx.AsyncClient,
    world: World,
    nlu_model: NluModel,
    fake: RunningFakeChannel,
    senders: dict[Channel, ChannelSender],
) -> None:
    chat = await chat_of(world, nlu_model, 1)
    await chat.say(HUMAN_PLEASE)
    conversation_id = await chat.conversation_id()
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    text = "您好，我是招聘负责人王老师，结果本周五前通知您。"

    answer = await post_form(
        console, f"/console/conversations/{conversation_id}/reply", csrf, text=text
    )

    page_url = f"/console/candidates/{await candidate_id(world, 1)}"
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{page_url}?done=replied#c{conversation_id}"
    page = await console.get(answer.headers["location"])
    assert "Reply sent" in page.text
    assert text in page.text
    assert 'data-author="hr"' in page.text
    assert 'data-author="candidate"' in page.text
    assert 'data-author="bot"' in page.text
    assert fake.state.deliveries == []  # written; the worker sends it after commit
    assert await deliver_due(world.runtime, senders) == 1
    assert [(d["recipient"], d["body"]) for d in fake.state.deliveries] == [
        ("telegram-user-1", text)
    ]
    [entry] = await audit(world, "conversation.replied")
    assert entry.actor == f"user:{world.recruiter.id}"
    assert entry.object_id == str(conversation_id)
    assert entry.team_id == world.team.id
    assert entry.after is not None
    assert entry.after["text"] == text


async def test_an_empty_reply_is_refused_inline_and_nothing_is_written(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await chat_of(world, nlu_model, 1)
    await chat.say(HUMAN_PLEASE)
    conversation_id = await chat.conversation_id()
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    async with world.runtime.sessionmaker() as session:
        before = await session.scalar(select(func.count()).select_from(ChatMessage))

    answer = await post_form(
        console, f"/console/conversations/{conversation_id}/reply", csrf, text="   "
    )

    assert answer.status_code == 422
    assert "give 1 to 4000 characters" in answer.text
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ChatMessage)) == before
    assert await audit(world, "conversation.replied") == []


async def test_hand_back_gives_the_conversation_to_the_bot_once(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await chat_of(world, nlu_model, 1)
    await chat.say(HUMAN_PLEASE)
    conversation_id = await chat.conversation_id()
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    assert await chat.say("我的面试结果出来了吗") == []  # the bot is quiet meanwhile
    page = await console.get(f"/console/candidates/{await candidate_id(world, 1)}")
    assert "Hand back to the bot" in page.text

    back = await post_form(console, f"/console/conversations/{conversation_id}/handback", csrf)
    again = await post_form(console, f"/console/conversations/{conversation_id}/handback", csrf)

    assert back.status_code == 303
    assert "done=handed_back" in back.headers["location"]
    assert again.status_code == 409
    assert "not with HR" in again.text
    assert await open_handoffs(world) == 0
    assert "AP-2026-000001" in (await chat.say("我的面试结果出来了吗"))[0].text
    [entry] = await audit(world, "conversation.handed_back")
    assert entry.before is not None
    assert entry.before["with"] == "hr"
    assert entry.after == {"with": "bot"}
    queue = await console.get("/console/conversations")
    assert f'id="handoff-{conversation_id}"' not in queue.text


# -- the transcript across channels ---------------------------------------------------------


async def test_the_transcript_merges_every_channel_in_time_order(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    telegram = await chat_of(world, nlu_model, 1, also=(Channel.WEB,))
    web = Chat(world, telegram.gateway, "web-user-1", channel=Channel.WEB)
    await telegram.say("你好")
    await web.say("我的面试结果出来了吗")
    # The result went out by e-mail (recorded by the dispatcher as a sent outbox row).
    await world.decide(1, "reject")
    async with world.runtime.transaction() as session:
        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        message.state, message.sent_at = MessageState.SENT, utcnow()
        session.add(
            OutboxItem(
                message_id=message.id,
                channel=Channel.EMAIL,
                idempotency_key="result-email-1",
                state=OutboxState.SENT,
                next_attempt_at=utcnow(),
                sent_at=utcnow(),
            )
        )
    await logged_in(console, world.runtime, world.recruiter.id)

    page = await console.get(f"/console/candidates/{await candidate_id(world, 1)}")

    assert page.status_code == 200
    channels = [
        line.split('data-channel="')[1].split('"')[0]
        for line in page.text.split('<li class="line')[1:]
    ]
    assert channels[:2] == ["telegram", "telegram"]  # said and answered first
    assert set(channels[2:4]) == {"web"}
    assert channels[-1] == "email"
    assert 'data-author="result"' in page.text
    assert "面试结果" in page.text  # the e-mail's subject
    # Both bound accounts are listed, each with its reply form and an unbind action.
    assert page.text.count('class="unbind"') == 2
    # Reading a candidate's transcript is audited, as over the API.
    async with world.runtime.sessionmaker() as session:
        [read] = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "transcript.read"))
        ).all()
    assert (read.actor, read.object_type, read.object_id) == (
        f"user:{world.recruiter.id}",
        "candidate",
        str(await candidate_id(world, 1)),
    )
    assert read.details == {"lines": len(channels), "via": "console"}
    assert read.team_id == world.team.id


async def test_find_a_candidate_by_application_code(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    await world.applicant(2, team="team-b")
    await logged_in(console, world.runtime, world.recruiter.id)

    found = await console.get("/console/candidates", params={"code": " ap-2026-000001 "})
    theirs = await console.get("/console/candidates", params={"code": "AP-2026-000002"})
    unknown = await console.get("/console/candidates", params={"code": "AP-2026-999999"})

    assert found.status_code == 303
    assert found.headers["location"] == f"/console/candidates/{await candidate_id(world, 1)}"
    assert theirs.status_code == unknown.status_code == 404


async def test_another_teams_candidate_is_a_404(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    await chat_of(world, nlu_model, 1, team="team-b")
    await logged_in(console, world.runtime, world.recruiter.id)

    answer = await console.get(f"/console/candidates/{await candidate_id(world, 1)}")

    assert answer.status_code == 404
    assert (await console.get("/console/candidates/999999")).status_code == 404


# -- unbinding -------------------------------------------------------------------------------


async def test_unbinding_an_account_is_audited_with_before_and_after(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await chat_of(world, nlu_model, 1, also=(Channel.WEB,))
    await chat.say("你好")
    candidate = await candidate_id(world, 1)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "telegram-user-1")
        )
    assert identity is not None

    answer = await post_form(console, f"/console/identities/{identity.id}/unbind", csrf)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/candidates/{candidate}?done=unbound:telegram"
    async with world.runtime.sessionmaker() as session:
        unbound = await session.get_one(ChatIdentity, identity.id)
        [event] = (
            await session.scalars(
                select(IdentityEvent).where(IdentityEvent.chat_identity_id == identity.id)
            )
        ).all()
    assert unbound.candidate_id is None
    assert unbound.bound_at is None
    assert event.action is IdentityAction.UNBOUND
    assert event.previous_candidate_id == candidate
    assert event.actor == f"user:{world.recruiter.id}"
    assert event.via == "console"
    [entry] = await audit(world, "identity.unbound")
    assert entry.object_type == "chat_identity"
    assert entry.object_id == str(identity.id)
    assert entry.team_id == world.team.id
    assert entry.before is not None
    assert entry.before["candidate_id"] == candidate
    assert entry.after is not None
    assert entry.after["candidate_id"] is None
    page = await console.get(answer.headers["location"])
    assert "The telegram account is unbound" in page.text
    assert page.text.count('class="unbind"') == 1  # the web account is still bound
    # The unbound account is no longer the candidate's: unbinding it again is a 404.
    again = await post_form(console, f"/console/identities/{identity.id}/unbind", csrf)
    assert again.status_code == 404
    # What the candidate said there stays in their transcript, and the history shows it.
    assert "你好" in page.text
    history = page.text.split('id="account-history"')[1].split("</table>")[0]
    assert "unbound" in history
    assert f"user:{world.recruiter.id} · console" in history


async def test_an_unbound_account_is_shown_to_admins_only_on_its_own(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await chat_of(world, nlu_model, 1)
    await chat.say("你好")
    conversation_id = await chat.conversation_id()
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(select(ChatIdentity))
    assert identity is not None
    await post_form(console, f"/console/identities/{identity.id}/unbind", csrf)
    await chat.say("我是谁")  # said after unbinding: nobody's

    hidden = await console.get(f"/console/conversations/{conversation_id}")
    page = await console.get(f"/console/candidates/{await candidate_id(world, 1)}")
    admin, _ = await world.member(Role.ADMIN)
    console.cookies.clear()
    await logged_in(console, world.runtime, admin.id)
    shown = await console.get(f"/console/conversations/{conversation_id}")

    assert hidden.status_code == 404  # no candidate, so no team
    assert "你好" in page.text
    assert "我是谁" not in page.text
    assert shown.status_code == 200
    assert "Unbound chat account" in shown.text
    assert "我是谁" in shown.text
    assert f'action="/console/conversations/{conversation_id}/reply"' in shown.text


# -- drafted answers to job questions ------------------------------------------------------


async def drafted_question(world: World, nlu_model: NluModel) -> tuple[Chat, JobQuestion]:
    """Candidate 1 asks about overtime in Chinese; only an English answer is approved, so the
    bot drafts from it and waits for HR."""
    chat = await chat_of(world, nlu_model, 1)
    application = await world.application(1)
    async with world.runtime.transaction() as session:
        await save_answer(
            session,
            application.job_id,
            "overtime",
            Locale.EN,
            "Rarely; overtime is compensated.",
            actor="test",
            now=utcnow(),
        )
    await chat.say("要加班吗")
    async with world.runtime.sessionmaker() as session:
        question = await session.scalar(select(JobQuestion))
    assert question is not None
    assert question.draft == "Rarely; overtime is compensated."
    return chat, question


async def question_of(world: World, question_id: int) -> JobQuestion:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(JobQuestion, question_id)


async def test_approve_a_draft_as_it_is(
    console: httpx.AsyncClient,
    world: World,
    nlu_model: NluModel,
    fake: RunningFakeChannel,
    senders: dict[Channel, ChannelSender],
) -> None:
    _, question = await drafted_question(world, nlu_model)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    listed = await console.get("/console/job-questions")
    assert f'id="question-{question.id}"' in listed.text
    assert "Rarely; overtime is compensated." in listed.text
    empty = await post_form(
        console, f"/console/job-questions/{question.id}/approve", csrf, answer=" "
    )
    assert empty.status_code == 422
    assert (await question_of(world, question.id)).state is JobQuestionState.PENDING

    answer = await post_form(
        console,
        f"/console/job-questions/{question.id}/approve",
        csrf,
        answer="Rarely; overtime is compensated.",
    )

    assert answer.status_code == 303
    assert (await question_of(world, question.id)).state is JobQuestionState.ANSWERED
    assert await deliver_due(world.runtime, senders) == 1
    assert fake.state.deliveries[0]["body"] == "Rarely; overtime is compensated."
    [entry] = await audit(world, "job_question.approved")
    assert entry.before is not None
    assert entry.before["state"] == "pending"
    assert entry.after is not None
    assert entry.after["state"] == "answered"
    twice = await post_form(
        console, f"/console/job-questions/{question.id}/approve", csrf, answer="again"
    )
    assert twice.status_code == 409
    assert await deliver_due(world.runtime, senders) == 0


async def test_edit_a_draft_and_save_it_for_everyone(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat, question = await drafted_question(world, nlu_model)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    edited = "一般不加班，项目上线前偶尔加班，可调休。"

    answer = await post_form(
        console,
        f"/console/job-questions/{question.id}/approve",
        csrf,
        answer=edited,
        save_to_knowledge_base="1",
    )

    assert answer.status_code == 303
    assert (await question_of(world, question.id)).answer == edited
    [entry] = await audit(world, "job_question.edited_and_approved")
    assert entry.before is not None
    assert entry.before["draft"] == "Rarely; overtime is compensated."
    assert entry.after is not None
    assert entry.after["answer"] == edited
    assert entry.details == {"saved_to_knowledge_base": True}
    # The candidate's page shows the answer as HR's, and the next asker gets it at once.
    page = await console.get(f"/console/candidates/{await candidate_id(world, 1)}")
    assert edited in page.text
    assert edited in (await chat.say("要加班吗"))[0].text


async def test_reject_a_draft_sends_nothing_and_needs_a_reason(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    _, question = await drafted_question(world, nlu_model)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    path = f"/console/job-questions/{question.id}/reject"
    async with world.runtime.sessionmaker() as session:
        messages = await session.scalar(select(func.count()).select_from(ChatMessage))

    no_reason = await post_form(console, path, csrf, reason=" ")
    assert no_reason.status_code == 422
    assert (await question_of(world, question.id)).state is JobQuestionState.PENDING

    rejected = await post_form(console, path, csrf, reason="the English answer is out of date")

    assert rejected.status_code == 303
    assert rejected.headers["location"] == f"/console/job-questions?done=rejected:{question.id}"
    decided = await question_of(world, question.id)
    assert decided.state is JobQuestionState.DISMISSED
    assert decided.decided_by == f"user:{world.recruiter.id}"
    [entry] = await audit(world, "job_question.rejected")
    assert entry.details == {"reason": "the English answer is out of date"}
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ChatMessage)) == messages
    assert (await post_form(console, path, csrf, reason="again")).status_code == 409
    listed = await console.get("/console/job-questions")
    assert f'id="question-{question.id}"' not in listed.text


# -- HR tasks --------------------------------------------------------------------------------


async def test_tasks_from_the_chat_are_listed_and_marked_done(
    console: httpx.AsyncClient, world: World, nlu_model: NluModel
) -> None:
    chat = await chat_of(world, nlu_model, 1)
    await chat.say("周二上午要上课，面试能换到下午吗")
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    async with world.runtime.sessionmaker() as session:
        task = await session.scalar(select(HrTask))
    assert task is not None

    listed = await console.get("/console/hr-tasks")
    assert f'id="task-{task.id}"' in listed.text
    assert "Reschedule" in listed.text
    assert "周二上午要上课" in listed.text

    done = await post_form(console, f"/console/hr-tasks/{task.id}/done", csrf)
    again = await post_form(console, f"/console/hr-tasks/{task.id}/done", csrf)

    assert done.status_code == again.status_code == 303
    async with world.runtime.sessionmaker() as session:
        finished = await session.get_one(HrTask, task.id)
    assert finished.done_by == f"user:{world.recruiter.id}"
    [entry] = await audit(world, "hr_task.done")  # once: the second changed nothing
    assert entry.details == {"kind": "reschedule"}
    assert f'id="task-{task.id}"' not in (await console.get("/console/hr-tasks")).text


# -- escalations -----------------------------------------------------------------------------


async def test_team_leads_see_their_teams_escalations(
    console: httpx.AsyncClient, world: World
) -> None:
    for n, team in ((1, "team-a"), (2, "team-b")):
        await world.applicant(n, team=team, bind=[Channel.WECHAT])
        await world.decide(n, "reject")  # due 2026-03-10; drafts wait for approval
    async with world.runtime.transaction() as session:
        await check_deadlines(session, now=datetime(2026, 3, 11, 2, tzinfo=UTC))
        mine, theirs = (await session.scalars(select(OutreachMessage.id).order_by("id"))).all()
    lead, _ = await world.member(Role.TEAM_LEAD, world.team)

    await logged_in(console, world.runtime, world.recruiter.id)
    assert (await console.get("/console/escalations")).status_code == 403
    assert "/console/escalations" not in (await console.get("/console/conversations")).text
    console.cookies.clear()
    await logged_in(console, world.runtime, lead.id)

    page = await console.get("/console/escalations")

    assert page.status_code == 200
    assert f'id="escalation-{mine}"' in page.text
    assert f'id="escalation-{theirs}"' not in page.text
    assert "breached" in page.text
    assert "/console/escalations" in (await console.get("/console/conversations")).text


async def test_a_sent_result_leaves_the_escalations(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "reject")
    async with world.runtime.transaction() as session:
        await check_deadlines(session, now=datetime(2026, 3, 11, 2, tzinfo=UTC))
        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        message.state, message.sent_at = MessageState.SENT, utcnow() - timedelta(minutes=1)
    lead, _ = await world.member(Role.TEAM_LEAD, world.team)
    await logged_in(console, world.runtime, lead.id)

    page = await console.get("/console/escalations")

    assert "No escalated result is waiting" in page.text
