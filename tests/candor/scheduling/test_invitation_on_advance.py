"""An advance result invites the candidate to book their next round: the invitation opens
with the queueing (automatic or HR's approval), and the delivered message carries it per
channel beside the approved text, which stays as approved. The booking link opens the web
chat bound to the application; an unknown or closed link reveals nothing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.channels.registry import build_senders
from bot.channels.webchat import WebChatChannel
from bot.channels.webhook import WebhookChannel
from candor.chat import transcript
from candor.clock import utcnow
from candor.delivery.ports import close_senders
from candor.dialogue import service as dialogue
from candor.models import Application, ApprovalRule, ChatIdentity, ChatMessage, WebhookEvent
from candor.models.enums import Channel, Decision
from candor.models.outreach import ApprovalMode, MessageState, OutboxItem, OutreachMessage
from candor.models.scheduling import BookingState, InterviewBooking, InvitationState
from candor.models.webhooks import WebhookEventType
from candor.outreach import service as outreach
from candor.outreach.dispatcher import Dispatcher
from candor.scheduling.invitations import BOOK_PAYLOAD, LINK_MARKER, TOKEN_MARKER
from tests.candor.scheduling.flow_world import (
    add_slot,
    book,
    enable_booking,
    interview_of,
    invitation,
)
from tests.fake_telegram_server import RunningFakeTelegram, running_fake_telegram
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World, install_unchecked_template
from tests.smtp_server import RunningSmtp, running_smtp


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


@pytest.fixture
async def telegram() -> AsyncIterator[RunningFakeTelegram]:
    async with running_fake_telegram() as running:
        yield running


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


async def _due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))


async def _message(world: World, n: int = 1) -> OutreachMessage:
    application = await world.application(n)
    async with world.runtime.sessionmaker() as session:
        return (
            await session.scalars(
                select(OutreachMessage).where(OutreachMessage.application_id == application.id)
            )
        ).one()


async def _advance(world: World, n: int, **candidate: Any) -> None:
    await world.applicant(n, **candidate)
    await enable_booking(world, n)
    await world.decide(n, "advance")
    await _due_now(world)


async def test_telegram_gets_a_booking_button_and_email_a_link_under_the_approved_text(
    world: World, smtp: RunningSmtp, telegram: RunningFakeTelegram
) -> None:
    await _advance(world, 1, bind=[Channel.TELEGRAM], preferred_channels=["telegram"])
    await _advance(world, 2, preferred_channels=["email"], email="han@example.com")
    settings = world.runtime.settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_starttls": False,
            "smtp_from": "Candor HR <hr@candor.test>",
            "telegram_bot_token": SecretStr(telegram.state.token),
            "telegram_api_base": telegram.base,
            "public_url": "https://jobs.example.cn/",
        }
    )
    senders = build_senders(settings, world.runtime.redis)
    # The dispatcher's links start at the public address.
    runtime = dataclasses.replace(world.runtime, settings=settings)
    try:
        await Dispatcher(runtime, senders, await world.context()).run_once()
    finally:
        await close_senders(senders)

    first, second = await _message(world, 1), await _message(world, 2)
    assert (first.state, second.state) == (MessageState.SENT, MessageState.SENT)
    # The invitation opened with the queueing, naming the message that carries it.
    assert (await invitation(world, 1)).outreach_message_id == first.id
    [sent] = telegram.state.sent_to("telegram-user-1")
    assert sent["text"] == first.body
    keyboard = sent["reply_markup"]
    keyboard = json.loads(keyboard) if isinstance(keyboard, str) else keyboard
    [[button]] = keyboard["inline_keyboard"]
    assert (button["text"], button["callback_data"]) == ("选择面试时间", BOOK_PAYLOAD)
    [mail] = smtp.handler.bodies_to("han@example.com")
    token = (await invitation(world, 2)).token
    approved = second.body.replace("\r\n", "\n").rstrip("\n")
    assert mail.startswith(approved)
    assert mail.endswith(f"请点击链接选择下一轮面试时间：https://jobs.example.cn/b/{token}")


async def test_hr_approval_opens_the_invitation_and_no_policy_no_invitation(
    world: World, fake: RunningFakeChannel
) -> None:
    async with world.runtime.transaction() as session:
        session.add(ApprovalRule(outcome=Decision.ADVANCE, mode=ApprovalMode.REQUIRE_APPROVAL))
    await world.applicant(1, preferred_channels=["email"])
    await enable_booking(world, 1)
    await world.decide(1, "advance")
    await world.applicant(2, preferred_channels=["email"], team="team-b")
    await world.decide(2, "advance")
    with pytest.raises(AssertionError):
        await invitation(world, 1)  # nothing yet: HR has not approved
    context = await world.context()
    async with world.runtime.transaction() as session:
        pending = await session.scalars(select(OutreachMessage).order_by(OutreachMessage.id))
        first, second = pending.all()
        await outreach.approve(session, first, context, actor=f"user:{world.recruiter.id}")
        await outreach.approve(session, second, context, actor=f"user:{world.recruiter.id}")
    assert (await invitation(world, 1)).outreach_message_id == first.id
    with pytest.raises(AssertionError):
        await invitation(world, 2)  # team-b's job does not book in Candor
    await _due_now(world)
    async with httpx.AsyncClient() as http:
        senders = {c: WebhookChannel(c, fake.url, client=http) for c in Channel}
        await Dispatcher(world.runtime, senders, await world.context()).run_once()
    assert len(fake.state.deliveries) == 2
    first_body, second_body = (d["body"] for d in fake.state.deliveries)
    assert first_body.startswith(first.body.rstrip())
    assert "/b/" in first_body.splitlines()[-1]
    assert second_body == second.body  # no invitation: exactly as approved


async def test_the_web_chat_gets_a_button_and_an_sms_template_the_link_at_its_marker(
    world: World, fake: RunningFakeChannel
) -> None:
    # The SMS form puts the link where the provider's approved text has a variable for it.
    await install_unchecked_template(
        world.runtime,
        "advance.zh-CN",
        sms_template_code="SMS_1",
        sms_params={"name": "{{ candidate_name }}", "link": LINK_MARKER, "code": TOKEN_MARKER},
    )
    await _advance(world, 1, bind=[Channel.WEB], preferred_channels=["web"])
    await _advance(world, 2, preferred_channels=["sms"])
    async with httpx.AsyncClient() as http:
        senders = {c: WebhookChannel(c, fake.url, client=http) for c in Channel}
        senders[Channel.WEB] = WebChatChannel(world.runtime.sessionmaker)  # type: ignore[assignment]
        async with world.runtime.transaction() as session:  # the web session has written
            await transcript.open_thread(session, Channel.WEB, "web-user-1")
        await Dispatcher(world.runtime, senders, await world.context()).run_once()
    [sms] = fake.state.deliveries
    token = (await invitation(world, 2)).token
    assert sms["sms_params"] == {
        "name": "李雷",
        "link": f"http://127.0.0.1:8000/b/{token}",
        "code": token,
    }
    async with world.runtime.sessionmaker() as session:
        row = await session.scalar(select(ChatMessage).where(ChatMessage.author == "outreach"))
    assert row is not None
    assert row.text == (await _message(world, 1)).body
    assert row.payload == {"buttons": [["选择面试时间", BOOK_PAYLOAD]]}


async def test_the_booking_link_binds_the_web_chat_once_and_a_closed_one_reveals_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    await _advance(world, 1, preferred_channels=["email"])
    token = (await invitation(world, 1)).token

    answer = await client.get(f"/b/{token}")
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert target.path == "/chat"
    query = parse_qs(target.query)
    assert query["start"] == ["book"]
    assert answer.headers["referrer-policy"] == "no-referrer"
    # The page redeems the binding as any web-chat link: the session is the candidate's.
    await client.get("/chat")
    bound = await client.post(
        "/chat/api/messages", json={"event": "start", "event_key": query["bind"][0]}
    )
    assert bound.status_code == 200
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.channel == Channel.WEB)
        )
    assert identity is not None
    assert identity.bound_at is not None
    assert identity.candidate_id == (await world.application(1)).candidate_id

    for unknown in ("nope", "x" * 200, token[:-1] + ("A" if token[-1] != "A" else "B")):
        refused = await client.get(f"/b/{unknown}")
        assert refused.status_code == 404
        assert "链接已失效" in refused.text
        assert "李雷" not in refused.text
    await world.post(
        {
            "event_id": "withdraw-1",
            "type": "application_withdrawn",
            "data": {"application_external_id": "app-1", "withdrawn_at": utcnow().isoformat()},
        }
    )
    assert (await invitation(world, 1)).state is InvitationState.CLOSED
    assert (await client.get(f"/b/{token}")).status_code == 404


async def test_a_later_rejection_closes_the_invitation_and_cancels_the_booked_interview(
    world: World,
) -> None:
    await _advance(world, 1, preferred_channels=["email"])
    application = await world.application(1)
    slot = await add_slot(world, application.job_id, utcnow() + timedelta(days=3))
    booking = await book(world, 1, slot, now=utcnow())
    assert (await interview_of(world)) is not None

    await world.decide(1, "reject", version=2)

    found = await invitation(world, 1)
    assert found.state is InvitationState.CLOSED
    async with world.runtime.sessionmaker() as session:
        row = await session.get_one(InterviewBooking, booking.id)
        events = (
            await session.scalars(
                select(WebhookEvent).where(
                    WebhookEvent.type == WebhookEventType.INTERVIEW_CANCELLED
                )
            )
        ).all()
    assert row.state is BookingState.CANCELLED
    interview = await interview_of(world)
    assert interview is not None
    assert interview.scheduled_at is None
    [event] = events
    assert event.payload["data"]["by"] == "system"
    assert event.payload["data"]["reason"] == "application rejected"
    assert event.payload["data"]["booking_id"] == booking.public_id


async def test_withdrawing_in_chat_closes_the_invitation(world: World) -> None:
    await _advance(world, 1, bind=[Channel.TELEGRAM], preferred_channels=["telegram"])
    application = await world.application(1)
    async with world.runtime.transaction() as session:
        thread = await transcript.open_thread(session, Channel.TELEGRAM, "telegram-user-1")
        app = await session.get_one(Application, application.id)
        assert await dialogue.withdraw(session, app, thread.conversation, now=utcnow())

    assert (await invitation(world, 1)).state is InvitationState.CLOSED
