"""Each domain change records its webhook event in its own transaction, with the ids the
ATS knows."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from bot.conversation import ConversationGateway
from candor.clock import utcnow
from candor.dialogue import hr_actions, service
from candor.models import Application, ChatIdentity, Conversation, OutboxItem, OutreachMessage
from candor.models.enums import Channel
from candor.models.webhooks import WebhookEvent, WebhookEventType
from candor.outreach.dispatcher import record_receipt
from tests.candor.outreach.conftest import webhook_dispatcher
from tests.candor.webhooks.conftest import recorded
from tests.dialogue_world import bound_chat
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World

APPLICATION_1 = {
    "application_external_id": "app-1",
    "candidate_external_id": "cand-1",
    "job_external_id": "job-team-a",
}


def about_application_1(payload: dict[str, object]) -> None:
    data = payload["data"]
    assert isinstance(data, dict)
    assert {key: data[key] for key in APPLICATION_1} == APPLICATION_1
    assert str(data["application_code"]).startswith("AP-")


async def test_chat_replies_a_reschedule_and_a_withdrawal_reach_the_ats(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)

    await chat.say("周二上午要上课，面试能换到下午吗")
    await chat.say("我拿到别家的offer了，想撤回申请")
    await chat.say("是的，确定")

    replied = await recorded(world.runtime, WebhookEventType.CANDIDATE_REPLIED)
    assert [p["data"]["text"] for p in replied] == [
        "周二上午要上课，面试能换到下午吗",
        "我拿到别家的offer了，想撤回申请",
        "是的，确定",
    ]
    assert replied[0]["data"]["channel"] == "web"
    about_application_1(replied[0])
    [reschedule] = await recorded(world.runtime, WebhookEventType.INTERVIEW_RESCHEDULE_REQUESTED)
    about_application_1(reschedule)
    assert reschedule["data"]["interview_external_id"] == "iv-1"
    assert reschedule["data"]["request"] == "周二上午要上课，面试能换到下午吗"
    assert reschedule["data"]["follow_up"] is False
    [withdrew] = await recorded(world.runtime, WebhookEventType.CANDIDATE_WITHDREW)
    about_application_1(withdrew)
    assert withdrew["version"] == 1
    assert str(withdrew["id"]).startswith("evt_")


async def test_a_reply_with_control_characters_reaches_the_ats_without_the_nul(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)

    await chat.say("我的\x00面试\x07结果\u202e")  # PostgreSQL's JSONB refuses a NUL

    [replied] = await recorded(world.runtime, WebhookEventType.CANDIDATE_REPLIED)
    assert replied["data"]["text"] == "我的面试\x07结果\u202e"


async def test_a_handoff_opened_in_chat_and_closed_by_hr_reach_the_ats(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)

    await chat.say("帮我转一下人工吧")
    async with world.runtime.transaction() as session:
        conversation = await session.get_one(Conversation, await chat.conversation_id())
        await hr_actions.hand_back(session, conversation, actor="hr:7", now=utcnow())

    [opened] = await recorded(world.runtime, WebhookEventType.HANDOFF_OPENED)
    [closed] = await recorded(world.runtime, WebhookEventType.HANDOFF_CLOSED)
    about_application_1(opened)
    about_application_1(closed)
    assert opened["data"]["handoff_id"] == closed["data"]["handoff_id"]
    assert opened["data"]["reason"] == "asked"
    assert closed["data"]["closed_by"] == "hr:7"


@pytest.mark.parametrize(("scope", "channel"), [("all", "web"), ("channel", "web")])
async def test_an_opt_out_reaches_the_ats_with_its_scope(
    world: World, gateway: ConversationGateway, scope: str, channel: str
) -> None:
    chat = await bound_chat(world, gateway, 1)

    await chat.say("以后不要再给我推送消息了")
    await chat.press(f'/opt_out{{"opt_out_scope": "{scope}"}}')

    [opted_out] = await recorded(world.runtime, WebhookEventType.CANDIDATE_OPTED_OUT)
    assert opted_out["data"]["candidate_external_id"] == "cand-1"
    assert opted_out["data"]["scope"] == scope
    assert opted_out["data"]["channel"] == channel


async def test_a_rating_reaches_the_ats_with_the_application_of_the_rated_result(
    world: World,
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    await world.decide(1, "reject")
    async with world.runtime.transaction() as session:
        message = (await session.scalars(select(OutreachMessage))).one()
        application = await session.get_one(Application, message.application_id)
        identity = (await session.scalars(select(ChatIdentity))).one()
        conversation = Conversation(
            channel=Channel.WEB, chat_identity_id=identity.id, candidate_id=application.candidate_id
        )
        session.add(conversation)
        await session.flush()
        await service.ask_rating_once(
            session, message, application.candidate_id, conversation.id, now=utcnow()
        )
        await service.store_rating(session, application.candidate_id, 4, now=utcnow())

    [csat] = await recorded(world.runtime, WebhookEventType.CSAT_RECORDED)
    about_application_1(csat)
    assert csat["data"]["rating"] == 4
    assert csat["data"]["message_id"] == message.id


async def test_nothing_is_recorded_when_the_change_rolls_back(world: World) -> None:
    await world.applicant(1, bind=[Channel.WEB])

    async def withdraw_then_fail() -> None:
        async with world.runtime.transaction() as session:
            application = (await session.scalars(select(Application))).one()
            identity = (await session.scalars(select(ChatIdentity))).one()
            conversation = Conversation(
                channel=Channel.WEB,
                chat_identity_id=identity.id,
                candidate_id=application.candidate_id,
            )
            session.add(conversation)
            await session.flush()
            assert await service.withdraw(session, application, conversation, now=utcnow())
            await session.flush()
            assert await session.scalar(select(WebhookEvent.id)) is not None
            raise RuntimeError("the request failed after the withdrawal")

    with pytest.raises(RuntimeError):
        await withdraw_then_fail()

    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(WebhookEvent.id)) is None


async def test_a_result_delivered_by_its_channel_and_by_a_receipt_reaches_the_ats(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    worker = await webhook_dispatcher(world, fake, http)

    await worker.run_once()
    async with world.runtime.transaction() as session:
        await record_receipt(
            session, provider_message_id=fake.state.deliveries[0]["id"], delivered=True
        )

    by_channel, by_receipt = await recorded(world.runtime, WebhookEventType.MESSAGE_DELIVERED)
    about_application_1(by_channel)
    assert by_channel["data"]["channel"] == "wechat"
    assert by_channel["data"]["outcome"] == "advance"
    assert by_channel["data"]["confirmed_by"] == "channel"
    assert by_receipt["data"]["confirmed_by"] == "receipt"


async def test_a_result_no_channel_takes_is_reported_undeliverable(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "advance")
    fake.state.scripts = {"wechat-user-1": [403], "lilei@example.com": [400]}
    worker = await webhook_dispatcher(world, fake, http)
    for _ in range(2):
        async with world.runtime.transaction() as session:
            await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
        await worker.run_once()

    [undeliverable] = await recorded(world.runtime, WebhookEventType.MESSAGE_UNDELIVERABLE)
    about_application_1(undeliverable)
    assert "no channel left" in undeliverable["data"]["reason"]
    assert await recorded(world.runtime, WebhookEventType.MESSAGE_DELIVERED) == []


@pytest.fixture
async def fake() -> object:
    async with running_fake_channel() as running:
        yield running


@pytest.fixture
async def http() -> object:
    async with httpx.AsyncClient() as client:
        yield client
