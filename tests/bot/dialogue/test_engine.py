from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.models import (
    ChatIdentity,
    CsatRating,
    Handoff,
    HrTask,
    JobAnswer,
    JobQuestion,
)
from candor.models.dialogue import HrTaskKind, JobQuestionState
from candor.models.enums import ApplicationStatus, Locale
from nlu.model import NluModel
from tests.dialogue_world import Chat, actions_of, bound_chat, result_sent, texts_of
from tests.outreach_world import World


async def test_progress_tells_stage_last_event_and_the_promised_date(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    replies = await chat.say("我的面试结果出来了吗")
    assert actions_of(await chat.new_events()) == ["action_check_progress"]
    text = texts_of(replies)
    # Completed Tue 3 March 2026; 5 working days later is Tue 10 March.
    assert "AP-2026-000001" in text
    assert "AI 视频面试" in text
    assert "2026年3月3日" in text
    assert "2026年3月10日" in text


async def test_a_decided_result_stays_hidden_until_its_message_was_sent(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await world.decide(1, "reject")  # drafted; not approved and sent yet
    hidden = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "未通过" not in hidden
    assert "2026年3月10日" in hidden
    feedback = texts_of(await chat.say("为什么没过呀，能说下原因不"))
    assert "系统设计" not in feedback

    async with world.runtime.transaction() as session:
        from candor.models import OutreachMessage
        from candor.models.outreach import MessageState

        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        message.state = MessageState.DELIVERED
        message.sent_at = message.created_at
    shown = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "未通过" in shown


async def test_after_a_delivered_result_the_rating_is_asked_once_and_stored(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await result_sent(world, 1, "reject")
    first = await chat.say("为什么没过呀，能说下原因不")
    assert "系统设计" in texts_of(first)  # the improvement from the interview report
    assert [b.title for b in first[-1].buttons] == ["1", "2", "3", "4", "5"]
    again = await chat.say("我的面试结果出来了吗")
    assert all(not r.buttons for r in again)

    await chat.press('/rate_experience{"rating": "4"}')
    assert actions_of(await chat.new_events())[-1] == "action_rate_experience"
    async with world.runtime.sessionmaker() as session:
        ratings = (await session.scalars(select(CsatRating))).all()
    assert [(r.rating is not None, r.rating) for r in ratings] == [(True, 4)]


async def test_several_applications_ask_which_one_then_answer_about_it(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    from tests.factories import application_created

    await world.post(
        application_created(
            event_id="c-1b", application="app-1b", candidate="cand-1", job="job-other"
        )
    )
    asked = await chat.say("我的面试结果出来了吗")
    assert len(asked[-1].buttons) == 2
    other = next(b for b in asked[-1].buttons if "AP-2026-000002" in b.payload)
    answer = texts_of(await chat.press(other.payload))
    assert "AP-2026-000002" in answer
    assert "AP-2026-000001" not in answer


async def test_someone_elses_application_code_reveals_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await world.applicant(2)
    reply = texts_of(await chat.press('/ask_progress{"application_code": "AP-2026-000002"}'))
    assert "AP-2026-000002" not in reply
    assert "没有找到" in reply


async def test_withdrawal_needs_confirmation_then_updates_the_ats_and_tells_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    confirm = await chat.say("我拿到别家的offer了，想撤回申请")
    assert [b.payload for b in confirm[-1].buttons] == ["/affirm", "/deny"]
    assert (await world.application(1)).status is ApplicationStatus.ACTIVE

    await chat.press("/affirm")
    assert actions_of(await chat.new_events())[-1] == "action_withdraw"
    application = await world.application(1)
    assert application.status is ApplicationStatus.WITHDRAWN
    async with world.runtime.sessionmaker() as session:
        task = await session.scalar(select(HrTask))
    assert task is not None
    assert (task.kind, task.application_id, task.team_id) == (
        HrTaskKind.WITHDRAWAL,
        application.id,
        world.team.id,
    )


async def test_reschedule_creates_an_hr_task_with_the_proposed_times(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("周二上午要上课，面试能换到下午吗")
    async with world.runtime.sessionmaker() as session:
        task = await session.scalar(select(HrTask))
    assert task is not None
    assert task.kind is HrTaskKind.RESCHEDULE
    assert task.details["request"] == "周二上午要上课，面试能换到下午吗"


async def test_after_a_handoff_the_bot_is_quiet_until_hr_hands_back(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    handed = await chat.say("帮我转一下人工吧")
    assert "HR" in texts_of(handed)
    assert await chat.say("我的面试结果出来了吗") == []

    from candor.clock import utcnow
    from candor.dialogue import service

    async with world.runtime.transaction() as session:
        await service.hand_back(session, await chat.conversation_id(), actor="user:1", now=utcnow())
    assert "AP-2026-000001" in texts_of(await chat.say("我的面试结果出来了吗"))


async def test_opting_out_works_even_while_hr_has_the_conversation(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("帮我转一下人工吧")
    asked = await chat.say("以后不要再给我推送消息了")
    assert [b.payload for b in asked[-1].buttons] == [
        '/opt_out{"opt_out_scope": "channel"}',
        '/opt_out{"opt_out_scope": "all"}',
    ]
    await chat.press(asked[-1].buttons[0].payload)
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(select(ChatIdentity))
    assert identity is not None
    assert identity.opted_out_at is not None


async def test_unclear_messages_offer_the_top_two_intents_then_hand_off(
    world: World, unsure_gateway: ConversationGateway
) -> None:
    # A threshold no message reaches: every message is unclear.
    chat = await bound_chat(world, unsure_gateway, 1)
    first = await chat.say("我的面试结果出来了吗")
    assert actions_of(await chat.new_events()) == ["action_clarify_intent"]
    assert [b.payload for b in first[-1].buttons] == ["/ask_progress", "/ask_feedback"]
    assert "查询申请进度" in first[-1].buttons[0].title

    # Pressing a button is understood whatever the threshold.
    assert "AP-2026-000001" in texts_of(await chat.press("/ask_progress"))

    await chat.say("嗯嗯")
    assert await _handoff_reason(world) is None  # one fallback: asked again
    handed = await chat.say("嗯嗯嗯")
    assert "HR" in texts_of(handed)
    assert await _handoff_reason(world) == "fallback"


async def test_an_unsure_answer_to_the_bots_question_is_read_in_context(
    world: World, unsure_gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, unsure_gateway, 1)
    await chat.press("/withdraw")
    assert actions_of(await chat.new_events()) == ["utter_confirm_withdraw"]
    await chat.say("不了，先不撤")  # unsure by the threshold, but deny is what the rule expects
    assert actions_of(await chat.new_events()) == ["utter_withdraw_cancelled"]
    assert (await world.application(1)).status is ApplicationStatus.ACTIVE


async def _handoff_reason(world: World) -> str | None:
    async with world.runtime.sessionmaker() as session:
        handoff = await session.scalar(select(Handoff))
    return handoff.reason if handoff is not None else None


async def test_job_questions_come_from_the_knowledge_base_or_go_to_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    application = await world.application(1)
    async with world.runtime.transaction() as session:
        session.add(
            JobAnswer(
                job_id=application.job_id,
                topic="salary",
                locale=Locale.ZH_CN,
                answer="月薪 25k–40k，14 薪。",
                approved_by="test",
            )
        )
    assert "25k–40k" in texts_of(await chat.say("这个岗位工资大概多少呀"))

    queued = texts_of(await chat.say("要加班吗"))
    assert "HR" in queued
    async with world.runtime.sessionmaker() as session:
        question = await session.scalar(select(JobQuestion))
    assert question is not None
    assert (question.state, question.topic, question.team_id) == (
        JobQuestionState.PENDING,
        "overtime",
        world.team.id,
    )


async def test_state_lives_in_the_database_so_another_process_continues_the_form(
    world: World, gateway: ConversationGateway, nlu_model: NluModel
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("我拿到别家的offer了，想撤回申请")
    # Another process: its own engine and gateway, the same database and Redis.
    other = ConversationGateway(
        world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model)
    )
    chat.gateway = other
    await chat.press("/affirm")
    assert (await world.application(1)).status is ApplicationStatus.WITHDRAWN


async def test_concurrent_turns_of_one_conversation_run_one_after_another(
    world: World, nlu_model: NluModel
) -> None:
    processes = [
        ConversationGateway(world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model))
        for _ in range(3)
    ]
    chat = await bound_chat(world, processes[0], 1)
    chats = [chat, *(Chat(world, gateway, chat.user) for gateway in processes[1:])]
    await asyncio.gather(*(c.say("我的面试结果出来了吗") for c in chats))
    events = await chat.events()
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    assert len(users) == 3
    # Each turn's action follows its own message, never interleaved with another's.
    for index in users:
        assert events[index + 1] == {"event": "action", "name": "action_check_progress"}


async def test_a_code_that_is_not_theirs_does_not_stick_to_later_questions(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await world.applicant(2)
    foreign = texts_of(await chat.say("查一下 AP-2026-000002 的进度"))
    assert "没有找到" in foreign
    mistyped = texts_of(await chat.say("帮我查下 AP-2026-999999 的面试进度"))
    assert "没有找到" in mistyped
    answer = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "AP-2026-000001" in answer
    assert "没有找到" not in answer


async def test_feedback_shows_the_china_date_when_sent_at_two_in_the_morning(
    world: World, gateway: ConversationGateway
) -> None:
    from datetime import UTC, datetime

    from candor.models import OutreachMessage

    chat = await bound_chat(world, gateway, 1)
    await result_sent(world, 1, "reject")
    async with world.runtime.transaction() as session:
        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        # 02:00 on Thu 5 March in China is still Wed 4 March in UTC.
        message.sent_at = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)
    reply = texts_of(await chat.say("为什么没过呀，能说下原因不"))
    assert "2026年3月5日（周四）" in reply
    assert "3月4日" not in reply


async def test_a_reschedule_follow_up_adds_to_the_open_task(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await chat.say("周二上午要上课，面试能换到下午吗")
    follow_up = texts_of(await chat.say("或者周四下午也可以，面试能改到那天吗"))
    assert "之前的改期需求" in follow_up
    async with world.runtime.sessionmaker() as session:
        tasks = (await session.scalars(select(HrTask))).all()
    assert len(tasks) == 1
    assert tasks[0].details["request"] == "周二上午要上课，面试能换到下午吗"
    assert [f["text"] for f in tasks[0].details["follow_ups"]] == [
        "或者周四下午也可以，面试能改到那天吗"
    ]


async def test_odd_input_gets_a_sensible_answer_and_the_conversation_goes_on(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    odd = [
        "",
        "   ",
        "😀😀😀🙏",
        "？？？。。。!!!",
        "\x00\x07\x1b[31m\u202e\ufeff",
        "我的面试结果出来了吗" * 1000,  # 10,000 characters
        "a" * 10_240,
    ]
    for text in odd:
        replies = await chat.say(text)
        assert replies, repr(text[:20])  # always an answer, never silence or an error
    await chat.say("你好")  # back to Chinese after the Latin letters above
    for nothing in ("", "   ", "？？？。。。!!!", "\x00\x07\u202e\ufeff"):
        assert "只能看懂文字" in texts_of(await chat.say(nothing))
    assert await _handoff_reason(world) is None  # empty messages are not misunderstandings
    # Nothing was lost on the way: the conversation still answers a plain question.
    assert "AP-2026-000001" in texts_of(await chat.say("我的面试结果出来了吗"))


async def test_misread_messages_go_to_the_review_queue(
    world: World, unsure_gateway: ConversationGateway
) -> None:
    from candor.models.nlu_review import MisreadMessage

    chat = await bound_chat(world, unsure_gateway, 1)
    await chat.say("那个东西弄好了没")
    await chat.say("🙃🙃")  # the second unclear message in a row: handed to HR
    async with world.runtime.sessionmaker() as session:
        items = (await session.scalars(select(MisreadMessage).order_by(MisreadMessage.id))).all()
    assert [(i.text, i.reasons) for i in items] == [
        ("那个东西弄好了没", ["fallback"]),
        ("🙃🙃", ["fallback", "handoff_after_misread"]),
    ]


async def test_the_message_a_complaint_follows_goes_to_the_review_queue(
    world: World, gateway: ConversationGateway
) -> None:
    from candor.models.nlu_review import MisreadMessage

    chat = await bound_chat(world, gateway, 1)
    await chat.say("我的面试结果出来了吗")
    await chat.say("你们这个机器人答非所问，太差劲了")
    async with world.runtime.sessionmaker() as session:
        items = (await session.scalars(select(MisreadMessage))).all()
    assert [(i.text, i.reasons, i.predicted_intent) for i in items] == [
        ("我的面试结果出来了吗", ["followed_by_complaint"], "ask_progress")
    ]
