from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from bot.channels.registry import build_senders
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.clock import utcnow
from candor.delivery.direct import deliver_due
from candor.delivery.ports import ChannelSender, close_senders
from candor.models import (
    AuditEntry,
    ChatDelivery,
    ChatIdentity,
    ChatMessage,
    Conversation,
    Handoff,
    HrTask,
    JobAnswer,
    JobQuestion,
    OutboxItem,
)
from candor.models.dialogue import ChatDeliveryState, HrTaskKind, JobQuestionState
from candor.models.enums import Channel, Locale
from candor.outreach.dispatcher import Dispatcher
from nlu.model import NluModel
from tests.dialogue_world import Chat, nlu_model
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World, hr

__all__ = ["nlu_model"]


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


async def telegram_chat(world: World, nlu_model: NluModel) -> Chat:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    engine = EmbeddedEngine(world.runtime, model=nlu_model)
    gateway = ConversationGateway(world.runtime, engine=engine)
    return Chat(world, gateway, "telegram-user-1", channel=Channel.TELEGRAM)


async def test_hr_replies_reach_the_candidates_channel_after_commit(
    world: World,
    api: httpx.AsyncClient,
    nlu_model: NluModel,
    fake: RunningFakeChannel,
    senders: dict[Channel, ChannelSender],
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()

    listed = await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    assert [h["conversation_id"] for h in listed.json()] == [conversation_id]
    path = f"/api/v1/conversations/{conversation_id}/replies"
    body = {"text": "您好，我是招聘负责人王老师，您的面试结果本周五前通知您。"}
    first = await api.post(path, json=body, headers=hr(world.recruiter_token, "reply-1"))
    again = await api.post(path, json=body, headers=hr(world.recruiter_token, "reply-1"))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"

    assert fake.state.deliveries == []  # written, not sent: the worker sends after commit
    assert await deliver_due(world.runtime, senders) == 1
    assert [(d["recipient"], d["body"]) for d in fake.state.deliveries] == [
        ("telegram-user-1", body["text"])
    ]
    async with world.runtime.sessionmaker() as session:
        delivery = await session.scalar(select(ChatDelivery))
        message = await session.get(ChatMessage, first.json()["message_id"])
    assert delivery is not None
    assert delivery.state is ChatDeliveryState.SENT
    assert message is not None
    assert message.author == f"user:{world.recruiter.id}"
    assert await deliver_due(world.runtime, senders) == 0


async def test_reply_and_handback_are_team_scoped_and_validated(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()
    replies = f"/api/v1/conversations/{conversation_id}/replies"
    handback = f"/api/v1/conversations/{conversation_id}/handback"

    outsider = await api.post(replies, json={"text": "hi"}, headers=hr(world.outsider_token, "o"))
    assert outsider.status_code == 404
    empty = await api.post(replies, json={"text": ""}, headers=hr(world.recruiter_token, "e"))
    assert empty.status_code == 422
    missing = await api.post(
        "/api/v1/conversations/999999/replies",
        json={"text": "hi"},
        headers=hr(world.recruiter_token, "m"),
    )
    assert missing.status_code == 404
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(ChatDelivery)) is None

    assert await chat.say("我的面试结果出来了吗") == []  # quiet while HR has it
    back = await api.post(handback, headers=hr(world.recruiter_token, "h1"))
    assert back.status_code == 200
    twice = await api.post(handback, headers=hr(world.recruiter_token, "h2"))
    assert twice.status_code == 409
    assert "AP-2026-000001" in (await chat.say("我的面试结果出来了吗"))[0].text


async def test_an_approved_job_answer_is_sent_and_joins_the_knowledge_base(
    world: World,
    api: httpx.AsyncClient,
    nlu_model: NluModel,
    fake: RunningFakeChannel,
    senders: dict[Channel, ChannelSender],
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("要加班吗")
    queue = await api.get("/api/v1/job-questions", headers=hr(world.recruiter_token))
    [question] = queue.json()
    assert question["topic"] == "overtime"
    assert (await api.get("/api/v1/job-questions", headers=hr(world.outsider_token))).json() == []

    path = f"/api/v1/job-questions/{question['id']}/answer"
    text = "一般不加班，项目上线前偶尔加班，可调休。"
    body = {"answer": text, "save_to_knowledge_base": True}
    answered = await api.post(path, json=body, headers=hr(world.recruiter_token, "a1"))
    assert answered.status_code == 200
    assert answered.json()["state"] == JobQuestionState.ANSWERED.value
    closed = await api.post(path, json=body, headers=hr(world.recruiter_token, "a2"))
    assert closed.status_code == 409

    assert await deliver_due(world.runtime, senders) == 1
    assert fake.state.deliveries[0]["body"] == text
    # The next candidate asking gets the approved answer at once.
    assert text in (await chat.say("要加班吗"))[0].text
    async with world.runtime.sessionmaker() as session:
        assert len((await session.scalars(select(JobAnswer))).all()) == 1
        assert len((await session.scalars(select(JobQuestion))).all()) == 1


async def test_the_hr_endpoints_need_a_token_and_an_idempotency_key(
    world: World, api: httpx.AsyncClient
) -> None:
    anonymous = await api.post("/api/v1/conversations/1/replies", json={"text": "hi"})
    assert anonymous.status_code == 401
    keyless = await api.post(
        "/api/v1/conversations/1/replies", json={"text": "hi"}, headers=hr(world.recruiter_token)
    )
    assert keyless.status_code in (400, 422)
    assert (await api.get("/api/v1/job-questions")).status_code == 401


async def test_chat_tasks_are_listed_to_the_team_and_marked_done(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("周二上午要上课，面试能换到下午吗")
    [task] = (await api.get("/api/v1/hr-tasks", headers=hr(world.recruiter_token))).json()
    assert task["kind"] == "reschedule"
    assert task["details"]["request"] == "周二上午要上课，面试能换到下午吗"
    assert (await api.get("/api/v1/hr-tasks", headers=hr(world.outsider_token))).json() == []
    hidden = await api.post(
        f"/api/v1/hr-tasks/{task['id']}/done", headers=hr(world.outsider_token, "d0")
    )
    assert hidden.status_code == 404

    done = await api.post(
        f"/api/v1/hr-tasks/{task['id']}/done", headers=hr(world.recruiter_token, "d1")
    )
    assert done.status_code == 200
    assert done.json()["done_by"] == f"user:{world.recruiter.id}"
    assert (await api.get("/api/v1/hr-tasks", headers=hr(world.recruiter_token))).json() == []
    every = await api.get("/api/v1/hr-tasks?open=false", headers=hr(world.recruiter_token))
    assert [t["id"] for t in every.json()] == [task["id"]]
    async with world.runtime.sessionmaker() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "hr_task.done"))
        ).all()
    assert [(e.actor, e.object_id) for e in entries] == [
        (f"user:{world.recruiter.id}", str(task["id"]))
    ]


async def test_a_rejected_job_question_sends_nothing_and_is_audited(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("要加班吗")
    [question] = (await api.get("/api/v1/job-questions", headers=hr(world.recruiter_token))).json()
    path = f"/api/v1/job-questions/{question['id']}/reject"

    blank = await api.post(path, json={"reason": ""}, headers=hr(world.recruiter_token, "r0"))
    rejected = await api.post(
        path, json={"reason": "问题已电话答复"}, headers=hr(world.recruiter_token, "r1")
    )
    again = await api.post(path, json={"reason": "再次"}, headers=hr(world.recruiter_token, "r2"))

    assert blank.status_code == 422
    assert rejected.status_code == 200
    assert rejected.json()["state"] == JobQuestionState.DISMISSED.value
    assert rejected.json()["decided_by"] == f"user:{world.recruiter.id}"
    assert again.status_code == 409
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(ChatDelivery)) is None
        [entry] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "job_question.rejected")
            )
        ).all()
    assert entry.details == {"reason": "问题已电话答复"}
    assert (await api.get("/api/v1/job-questions", headers=hr(world.recruiter_token))).json() == []


async def hr_queues(world: World, per_team: int) -> dict[str, list[int]]:
    """`per_team` open hand-offs, pending job questions and open tasks in each team, the
    teams' rows interleaved; returns the ids of team A's, by list path."""
    ids: dict[str, list[int]] = {HANDOFFS: [], QUESTIONS: [], TASKS: []}
    await world.applicant(1, team="team-a")
    await world.applicant(2, team="team-b")
    candidates = {
        world.team.id: (await world.application(1)).candidate_id,
        world.other_team.id: (await world.application(2)).candidate_id,
    }
    async with world.runtime.transaction() as session:
        for i in range(per_team):
            for team in (world.team, world.other_team):
                identity = ChatIdentity(
                    channel=Channel.WEB,
                    external_user_id=f"web-{team.id}-{i}",
                    candidate_id=candidates[team.id],
                )
                session.add(identity)
                await session.flush()
                conversation = Conversation(
                    chat_identity_id=identity.id,
                    channel=Channel.WEB,
                    candidate_id=identity.candidate_id,
                )
                session.add(conversation)
                await session.flush()
                handoff = Handoff(conversation_id=conversation.id, reason="asked")
                question = JobQuestion(
                    conversation_id=conversation.id,
                    candidate_id=identity.candidate_id,
                    team_id=team.id,
                    locale=Locale.ZH_CN,
                    question="每周上几天班？",
                    state=JobQuestionState.PENDING,
                )
                task = HrTask(
                    kind=HrTaskKind.RESCHEDULE,
                    team_id=team.id,
                    candidate_id=identity.candidate_id,
                    conversation_id=conversation.id,
                    details={},
                )
                session.add_all([handoff, question, task])
                await session.flush()
                if team is world.team:
                    ids[HANDOFFS].append(handoff.id)
                    ids[QUESTIONS].append(question.id)
                    ids[TASKS].append(task.id)
    return ids


HANDOFFS = "/api/v1/conversations/handoffs"
QUESTIONS = "/api/v1/job-questions"
TASKS = "/api/v1/hr-tasks"


@pytest.mark.parametrize("path", [HANDOFFS, QUESTIONS, TASKS])
async def test_hr_lists_are_paged_by_id_within_the_callers_teams(
    world: World, api: httpx.AsyncClient, path: str
) -> None:
    own = (await hr_queues(world, per_team=5))[path]

    async def page(**params: int) -> list[int]:
        answer = await api.get(path, params=params, headers=hr(world.recruiter_token))
        assert answer.status_code == 200, answer.text
        return [row["id"] for row in answer.json()]

    first = await page(limit=2)
    second = await page(limit=2, after_id=first[-1])
    last = await page(limit=2, after_id=second[-1])
    assert first + second + last == own  # oldest first, no other team's row, none twice
    assert len(last) == 1
    assert await page(limit=2, after_id=last[-1]) == []
    assert await page() == own  # the default page holds them all
    assert await page(limit=2) == first  # the same page again: a stable order


@pytest.mark.parametrize("path", [HANDOFFS, QUESTIONS, TASKS])
@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"after_id": -1}])
async def test_hr_list_paging_out_of_bounds_is_a_422(
    world: World, api: httpx.AsyncClient, path: str, params: dict[str, int]
) -> None:
    answer = await api.get(path, params=params, headers=hr(world.recruiter_token))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_transcript_is_read_across_channels_in_pages_and_the_reading_is_audited(
    world: World,
    api: httpx.AsyncClient,
    nlu_model: NluModel,
    senders: dict[Channel, ChannelSender],
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM, Channel.WEB])
    gateway = ConversationGateway(
        world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model)
    )
    telegram = Chat(world, gateway, "telegram-user-1", channel=Channel.TELEGRAM)
    web = Chat(world, gateway, "web-user-1", channel=Channel.WEB)
    await telegram.say("我的面试结果出来了吗")
    await world.decide(1, "advance")  # approved at once and sent: a result line
    async with world.runtime.transaction() as session:  # whatever the hour in Shanghai
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    await Dispatcher(world.runtime, senders, await world.context()).run_once()
    await web.say("请问下一轮面试在哪里")
    conversation_id = await telegram.conversation_id()
    path = f"/api/v1/conversations/{conversation_id}/messages"

    whole = await api.get(path, headers=hr(world.recruiter_token))
    assert whole.status_code == 200, whole.text
    lines = whole.json()
    chat_channels = {line["channel"] for line in lines if line["author"] != "result"}
    assert chat_channels == {"telegram", "web"}
    [result] = [line for line in lines if line["author"] == "result"]
    assert result["conversation_id"] is None
    assert lines[0]["author"] == "candidate"
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)

    paged: list[dict[str, object]] = []
    params: dict[str, str | int] = {"limit": 2}
    while page := (await api.get(path, params=params, headers=hr(world.recruiter_token))).json():
        assert len(page) <= 2
        paged += page
        params = {"limit": 2, "after": page[-1]["cursor"]}
    assert paged == lines  # no line skipped or repeated across pages

    async with world.runtime.sessionmaker() as session:
        reads = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "transcript.read"))
        ).all()
    # The whole, then every page, within CANDOR_ACCESS_AUDIT_WINDOW_MINUTES: one reading.
    assert len(reads) == 1
    assert {(r.actor, r.object_type, r.details["via"]) for r in reads} == {
        (f"user:{world.recruiter.id}", "candidate", "api")
    }
    assert reads[0].team_id == world.team.id
    assert reads[0].details["lines"] == len(lines)


async def test_a_transcript_is_another_teams_404_and_a_bad_cursor_422(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("我的面试结果出来了吗")
    path = f"/api/v1/conversations/{await chat.conversation_id()}/messages"

    assert (await api.get(path, headers=hr(world.outsider_token))).status_code == 404
    missing = await api.get(
        "/api/v1/conversations/999999/messages", headers=hr(world.recruiter_token)
    )
    assert missing.status_code == 404
    for after in ("x", "1.2.3", "1.0.99999999999999999999", "-1.0.1", "99999999999999999999.0.1"):
        bad = await api.get(path, params={"after": after}, headers=hr(world.recruiter_token))
        assert bad.status_code == 422, after
        assert bad.json()["error"]["code"] in {"bad_cursor", "invalid_request"}
    too_many = await api.get(path, params={"limit": 501}, headers=hr(world.recruiter_token))
    assert too_many.status_code == 422
    async with world.runtime.sessionmaker() as session:
        assert (
            await session.scalar(select(AuditEntry).where(AuditEntry.action == "transcript.read"))
            is None
        )


async def test_conversations_are_found_by_candidate_or_application_code_within_the_team(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("帮我转一下人工吧")
    conversation_id = await chat.conversation_id()
    candidate_id = (await world.application(1)).candidate_id

    by_code = await api.get(
        "/api/v1/conversations",
        params={"application_code": "ap-2026-000001"},
        headers=hr(world.recruiter_token),
    )
    assert by_code.status_code == 200, by_code.text
    [found] = by_code.json()
    assert found["id"] == conversation_id
    assert found["channel"] == "telegram"
    assert found["candidate_id"] == candidate_id
    assert found["application_code"] == "AP-2026-000001"
    assert found["with_hr"] is True
    by_candidate = await api.get(
        "/api/v1/conversations",
        params={"candidate_id": candidate_id},
        headers=hr(world.recruiter_token),
    )
    assert by_candidate.json() == by_code.json()

    for params in ({"candidate_id": candidate_id}, {"application_code": "AP-2026-000001"}):
        outsider = await api.get(
            "/api/v1/conversations", params=params, headers=hr(world.outsider_token)
        )
        assert outsider.status_code == 404
    lookups: tuple[dict[str, int | str], ...] = (
        {},
        {"candidate_id": candidate_id, "application_code": "AP-2026-000001"},
    )
    for lookup in lookups:
        both = await api.get(
            "/api/v1/conversations", params=lookup, headers=hr(world.recruiter_token)
        )
        assert both.status_code == 422
        assert both.json()["error"]["code"] == "one_lookup"


async def test_handoffs_are_listed_with_their_last_message_and_wait(
    world: World, api: httpx.AsyncClient, nlu_model: NluModel
) -> None:
    chat = await telegram_chat(world, nlu_model)
    await chat.say("帮我转一下人工吧")
    await chat.say("我想问一下薪资范围")  # quiet while HR has it: the last word is theirs

    [handoff] = (
        await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    ).json()
    assert handoff["last_message_text"] == "我想问一下薪资范围"
    assert handoff["last_message_author"] == "candidate"
    assert handoff["last_message_at"] >= handoff["opened_at"]
    assert handoff["waiting_seconds"] >= 0

    path = f"/api/v1/conversations/{handoff['conversation_id']}/replies"
    body = {"text": "您好，薪资面议，我稍后电话联系您。"}
    assert (
        await api.post(path, json=body, headers=hr(world.recruiter_token, "r"))
    ).status_code == 200
    [answered] = (
        await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    ).json()
    assert (answered["last_message_author"], answered["last_message_text"]) == ("hr", body["text"])
