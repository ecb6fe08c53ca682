"""Interview reminders, 24 and 2 hours before, once each: to the candidate's bound chat or
their e-mail, in their language and zone, respecting quiet hours; a skipped one is recorded;
two workers racing send each once. The sweep also gives lapsed holds' seats back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from candor.chat import transcript
from candor.clock import BUSINESS_TZ as BUSINESS
from candor.models import AuditEntry, Candidate, ChatDelivery, ChatMessage
from candor.models.enums import Channel, Locale
from candor.models.scheduling import BookingState, InterviewBooking
from candor.outreach.service import QuietHours
from candor.runtime import Runtime
from candor.scheduling import service as scheduling
from candor.scheduling.reminders import send_due_reminders
from candor.worker import DEFAULT_JOBS, InterviewReminders, run_job_once
from tests.candor.scheduling.flow_world import add_slot, book, enable_booking
from tests.outreach_world import World

QUIET = QuietHours()  # 21:00 to 08:00, China time
# A Wednesday afternoon, China time.
INTERVIEW = datetime(2027, 3, 10, 14, 0, tzinfo=BUSINESS)


async def _booked(
    world: World,
    n: int,
    starts_at: datetime,
    *,
    bind: Channel | None = Channel.TELEGRAM,
    booked_at: datetime | None = None,
    **candidate: object,
) -> InterviewBooking:
    await world.applicant(
        n,
        bind=[bind] if bind else None,
        preferred_channels=[bind.value] if bind else ["email"],
        **candidate,  # type: ignore[arg-type]
    )
    if bind is not None:
        async with world.runtime.transaction() as session:  # the account has written
            await transcript.open_thread(session, bind, f"{bind.value}-user-{n}")
    job_id = await enable_booking(world, n)
    slot = await add_slot(world, job_id, starts_at)
    return await book(world, n, slot, now=booked_at or starts_at - timedelta(days=3))


async def _sweep(world: World, now: datetime) -> int:
    return await send_due_reminders(world.runtime, now=now, quiet_hours=QUIET)


async def _reminders(world: World) -> list[tuple[str, str, str]]:
    """(channel, recipient, text) of every reminder queued, oldest first."""
    async with world.runtime.sessionmaker() as session:
        rows = (await session.scalars(select(ChatDelivery).order_by(ChatDelivery.id))).all()
    return [
        (row.channel.value, row.recipient, row.body)
        for row in rows
        if "面试" in row.body or "interview" in row.body
    ]


async def test_a_chat_candidate_is_reminded_a_day_and_two_hours_before_once_each(
    world: World,
) -> None:
    booking = await _booked(world, 1, INTERVIEW)

    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=25), quiet_hours=QUIET
        )
        == 0
    )
    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=24), quiet_hours=QUIET
        )
        == 1
    )
    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=20), quiet_hours=QUIET
        )
        == 0
    )
    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=2), quiet_hours=QUIET
        )
        == 1
    )
    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=1), quiet_hours=QUIET
        )
        == 0
    )

    sent = await _reminders(world)
    assert [(channel, recipient) for channel, recipient, _ in sent] == [
        ("telegram", "telegram-user-1"),
        ("telegram", "telegram-user-1"),
    ]
    text = sent[0][2]
    assert "2027年3月10日（周三）14:00–15:00（北京时间）" in text
    assert "上海市徐汇区漕河泾 3 号楼 12 层" in text
    assert "我去不了" in text
    async with world.runtime.sessionmaker() as session:
        row = await session.get_one(InterviewBooking, booking.id)
        transcript_rows = (
            await session.scalars(
                select(ChatMessage).where(ChatMessage.author == "system:reminders")
            )
        ).all()
    assert row.reminded_24h_at == INTERVIEW - timedelta(hours=24)
    assert row.reminded_2h_at == INTERVIEW - timedelta(hours=2)
    assert [m.text for m in transcript_rows] == [body for _, _, body in sent]


async def test_on_wechat_a_candidate_silent_for_two_days_is_reminded_by_email(
    world: World,
) -> None:
    """WeChat takes a chat message only within 48 hours of the candidate's last one."""
    for n, wrote in ((1, timedelta(hours=3)), (2, timedelta(days=3))):
        await world.applicant(
            n, bind=[Channel.WECHAT], preferred_channels=["wechat", "email"], email=f"c{n}@x.cn"
        )
        async with world.runtime.transaction() as session:
            await transcript.open_thread_with_inbound(
                session,
                Channel.WECHAT,
                f"wechat-user-{n}",
                text="好的",
                event=None,
                payload=None,
                provider_message_id=f"wx-{n}",
                at=INTERVIEW - timedelta(hours=2) - wrote,
            )
        job_id = await enable_booking(world, n)
        slot = await add_slot(world, job_id, INTERVIEW + timedelta(hours=n))
        await book(world, n, slot, now=INTERVIEW - timedelta(days=3))

    await _sweep(world, INTERVIEW - timedelta(hours=1))

    sent = sorted((channel, recipient) for channel, recipient, _ in await _reminders(world))
    assert sent == [("email", "c2@x.cn"), ("wechat", "wechat-user-1")]


async def test_without_a_chat_the_reminder_is_emailed_in_the_candidates_language_and_zone(
    world: World,
) -> None:
    await _booked(world, 1, INTERVIEW, bind=None, locale="en", email="li@example.com")
    async with world.runtime.transaction() as session:
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
        candidate.time_zone = "Europe/Berlin"

    await _sweep(world, INTERVIEW - timedelta(hours=2))

    [(channel, recipient, text)] = await _reminders(world)
    assert (channel, recipient) == ("email", "li@example.com")
    assert "Wed 10 Mar 2027, 07:00–08:00 (Europe/Berlin)" in text
    assert 'reply "I can\'t make it" to pick another time' in text
    async with world.runtime.sessionmaker() as session:
        delivery = await session.scalar(select(ChatDelivery))
    assert delivery is not None
    assert delivery.locale is Locale.EN
    assert delivery.subject == "Interview reminder: 后端工程师"


async def test_quiet_hours_delay_a_reminder_or_skip_it_when_their_end_is_too_late(
    world: World,
) -> None:
    early = INTERVIEW.replace(hour=7, minute=30)  # 07:30: both reminders fall in quiet hours
    booking = await _booked(world, 1, early)

    # 07:30 the day before is quiet; the reminder goes at 08:00.
    day_before = early - timedelta(hours=24)
    assert await _sweep(world, day_before) == 0
    assert (
        await send_due_reminders(
            world.runtime, now=day_before.replace(hour=8, minute=0), quiet_hours=QUIET
        )
        == 1
    )
    # 05:30 is quiet, and they end at 08:00, after the interview began: skipped, recorded.
    assert await _sweep(world, early - timedelta(hours=2)) == 1
    assert await _sweep(world, early - timedelta(hours=1)) == 0

    assert len(await _reminders(world)) == 1
    async with world.runtime.sessionmaker() as session:
        [skipped] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "booking.reminder_skipped")
            )
        ).all()
        row = await session.get_one(InterviewBooking, booking.id)
    assert skipped.object_id == booking.public_id
    assert skipped.details == {"reminder": "2h", "reason": "quiet_hours"}
    assert skipped.team_id == world.team.id
    assert row.reminded_2h_at is not None


async def test_a_late_sweep_sends_only_the_later_reminder_and_a_late_booking_only_its_own(
    world: World,
) -> None:
    await _booked(world, 1, INTERVIEW)
    await _booked(world, 2, INTERVIEW, booked_at=INTERVIEW - timedelta(hours=5))

    await _sweep(world, INTERVIEW - timedelta(hours=20))
    await send_due_reminders(
        world.runtime, now=INTERVIEW - timedelta(minutes=90), quiet_hours=QUIET
    )

    sent = await _reminders(world)
    # Candidate 1's day-before reminder went at -20h; candidate 2 booked 5 hours before and
    # gets only the 2-hour one.
    assert [recipient for _, recipient, _ in sent] == [
        "telegram-user-1",
        "telegram-user-1",
        "telegram-user-2",
    ]


async def test_two_workers_racing_send_each_reminder_once(world: World) -> None:
    await _booked(world, 1, INTERVIEW)
    await _booked(world, 2, INTERVIEW)
    other = Runtime.create(world.runtime.settings)  # another worker, its own connections
    try:
        for now in (INTERVIEW - timedelta(hours=24), INTERVIEW - timedelta(hours=2)):
            await asyncio.gather(
                _sweep(world, now),
                send_due_reminders(other, now=now, quiet_hours=QUIET),
                _sweep(world, now),
            )
    finally:
        await other.aclose()

    assert sorted(recipient for _, recipient, _ in await _reminders(world)) == [
        "telegram-user-1",
        "telegram-user-1",
        "telegram-user-2",
        "telegram-user-2",
    ]


async def test_a_cancelled_booking_is_not_reminded_and_lapsed_holds_are_released(
    world: World,
) -> None:
    booking = await _booked(world, 1, INTERVIEW)
    await world.applicant(2)
    application = await world.application(2)
    slot = await add_slot(world, application.job_id, INTERVIEW + timedelta(hours=2))
    held_at = INTERVIEW - timedelta(days=2)
    async with world.runtime.transaction() as session:
        invitation = await scheduling.invite(
            session, application, outreach_message_id=None, now=held_at
        )
        assert invitation is not None
        hold = await scheduling.hold(session, invitation, slot, by="candidate", now=held_at)
        found = await scheduling.invitation_of(session, booking.application_id)
        assert found is not None
        await scheduling.cancel(session, found, booking.public_id, by="candidate", now=held_at)

    assert (
        await send_due_reminders(
            world.runtime, now=INTERVIEW - timedelta(hours=2), quiet_hours=QUIET
        )
        == 1
    )

    assert await _reminders(world) == []
    async with world.runtime.sessionmaker() as session:
        assert (await session.get_one(InterviewBooking, hold.id)).state is BookingState.RELEASED


async def test_the_worker_runs_the_reminders_job(world: World) -> None:
    assert any(isinstance(job, InterviewReminders) for job in DEFAULT_JOBS)
    assert await run_job_once(world.runtime, InterviewReminders()) == 0
