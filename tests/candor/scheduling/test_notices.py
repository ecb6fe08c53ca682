"""Telling the candidate of HR's change to their interview: in their bound chat (the account
they used last), else by e-mail; in their language and zone, with the .ics link of a booked
time; written with the change, so a rolled-back change tells nobody; and never to a
candidate who asked for no messages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from candor.auth.principals import load_principal
from candor.chat import transcript
from candor.clock import utcnow
from candor.models import ChatDelivery, ChatIdentity, Conversation, InterviewSlot
from candor.models.enums import Channel, InterviewKind, Locale
from candor.models.scheduling import SlotSource
from candor.scheduling import hr
from candor.scheduling.links import ics_url, verify_ics_signature
from candor.scheduling.notices import Change
from candor.scheduling.slots import SlotSpec, add_slots
from tests.booking_chat_world import china
from tests.outreach_world import World
from tests.scheduling_world import (
    application_code,
    chats_on,
    emails_to,
    next_working_days,
    scheduling_job,
    sent_in_chat,
    set_candidate,
)


async def two_slots(world: World, job_id: int) -> list[int]:
    [day] = await next_working_days(world, 1)
    async with world.runtime.transaction() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        assert recruiter is not None
        made = await add_slots(
            session,
            recruiter,
            job_id,
            [
                SlotSpec(starts_at=china(day, 10), ends_at=china(day, 10, 45), location="3F"),
                SlotSpec(
                    starts_at=china(day, 15),
                    ends_at=china(day, 15, 45),
                    video_link="https://meet.example.com/x",
                ),
            ],
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.MANUAL,
            now=utcnow(),
        )
        return [slot.id for slot in made]


async def book(world: World, n: int, slot_id: int) -> hr.HrChange:
    code = await application_code(world, n)
    async with world.runtime.transaction() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        assert recruiter is not None
        return await hr.book(
            session, world.runtime.settings, recruiter, code, slot_id, now=utcnow()
        )


async def test_an_english_speaker_abroad_reads_their_own_zone_and_language(world: World) -> None:
    job_id = await scheduling_job(world)
    conversation_id = await chats_on(world, 1, Channel.WEB)
    await set_candidate(world, 1, locale=Locale.EN, time_zone="Europe/London")
    first, _second = await two_slots(world, job_id)

    change = await book(world, 1, first)

    assert change.change is Change.BOOKED
    assert change.told is not None
    assert change.told.channel is Channel.WEB
    [text] = await sent_in_chat(world, conversation_id)
    # 10:00 in Shanghai is 02:00 in London in winter, 03:00 in summer.
    assert "the recruiter booked your interview for 后端工程师" in text
    assert "(Europe/London)" in text
    assert any(f"{hour:02d}:00–{hour:02d}:45" in text for hour in (2, 3))
    assert "Place: 3F" in text
    assert ics_url(world.runtime.settings, change.booking.public_id) in text


async def test_the_chat_used_last_is_told_and_a_stopped_account_is_skipped(world: World) -> None:
    job_id = await scheduling_job(world)
    older = await chats_on(world, 1, Channel.WECHAT)
    newer = await chats_on(world, 1, Channel.TELEGRAM)
    first, second = await two_slots(world, job_id)
    async with world.runtime.transaction() as session:
        # The candidate wrote on WeChat an hour ago (its 48-hour window is open).
        await transcript.record_inbound(
            session,
            await session.get_one(Conversation, older),
            text="好的",
            event=None,
            payload=None,
            provider_message_id="wx-1",
            at=utcnow() - timedelta(hours=1),
        )
        (await session.get_one(Conversation, older)).last_message_at = utcnow()
        (await session.get_one(Conversation, newer)).last_message_at = utcnow() - timedelta(days=1)

    await book(world, 1, first)
    assert len(await sent_in_chat(world, older)) == 1
    assert await sent_in_chat(world, newer) == []

    # The candidate stopped the WeChat account: the move reaches them on Telegram.
    async with world.runtime.transaction() as session:
        conversation = await session.get_one(Conversation, older)
        account = await session.get_one(ChatIdentity, conversation.chat_identity_id)
        account.opted_out_at = utcnow()
    moved = await book(world, 1, second)
    assert moved.change is Change.MOVED
    [told] = await sent_in_chat(world, newer)
    assert "改到" in told


async def test_without_chat_an_email_and_without_consent_nothing(world: World) -> None:
    job_id = await scheduling_job(world)
    await scheduling_job(world, 2)
    first, second = await two_slots(world, job_id)
    booked = await book(world, 1, first)
    assert booked.told is not None
    assert booked.told.channel is Channel.EMAIL
    [mail] = await emails_to(world, "lilei@example.com")
    assert mail.subject == "面试已安排：后端工程师"
    assert "请准备：身份证和简历" in mail.body

    await set_candidate(world, 2, proactive_opted_out_at=utcnow())
    quiet = await book(world, 2, second)
    assert quiet.change is Change.BOOKED
    assert quiet.told is not None
    assert quiet.told.channel is None
    assert len(await emails_to(world, "lilei@example.com")) == 1


async def test_a_change_rolled_back_tells_nobody(world: World) -> None:
    job_id = await scheduling_job(world)
    conversation_id = await chats_on(world, 1)
    first, _second = await two_slots(world, job_id)
    code = await application_code(world, 1)
    async with world.runtime.sessionmaker() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        assert recruiter is not None
        change = await hr.book(
            session, world.runtime.settings, recruiter, code, first, now=utcnow()
        )
        assert change.told is not None
        assert change.told.channel is Channel.TELEGRAM
        await session.rollback()
    assert await sent_in_chat(world, conversation_id) == []
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ChatDelivery)) == 0
        assert (await session.get_one(InterviewSlot, first)).cancelled_at is None


def test_the_ics_signature_is_bound_to_the_booking_and_the_key(world: World) -> None:
    settings = world.runtime.settings
    link = ics_url(settings, "abc123")
    assert link.startswith(settings.public_url.rstrip("/") + "/api/v1/scheduling/bookings/")
    sig = link.split("sig=")[1]
    assert verify_ics_signature(settings, "abc123", sig)
    assert not verify_ics_signature(settings, "abc124", sig)
    assert not verify_ics_signature(settings, "abc123", sig[:-1] + "0")
    assert not verify_ics_signature(settings, "abc123", None)
    other = settings.model_copy(update={"secret_key": type(settings.secret_key)("x" * 40)})
    assert not verify_ics_signature(other, "abc123", sig)


async def test_a_wechat_candidate_silent_for_two_days_is_told_by_email(world: World) -> None:
    """WeChat takes a chat message only within 48 hours of the candidate's last one."""
    job_id = await scheduling_job(world)
    conversation_id = await chats_on(world, 1, Channel.WECHAT)
    async with world.runtime.transaction() as session:
        await transcript.record_inbound(
            session,
            await session.get_one(Conversation, conversation_id),
            text="好的",
            event=None,
            payload=None,
            provider_message_id="wx-old",
            at=utcnow() - timedelta(days=3),
        )
    first, _second = await two_slots(world, job_id)

    change = await book(world, 1, first)

    assert change.told is not None
    assert change.told.channel is Channel.EMAIL
    assert await sent_in_chat(world, conversation_id) == []
