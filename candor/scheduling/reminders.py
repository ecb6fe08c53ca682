"""Reminders of a booked interview, 24 hours and 2 hours before, once each.

The worker's `interview_reminders` job sweeps the confirmed bookings of the next 24 hours
and handles each by id in its own transaction. A reminder is claimed by setting its
`reminded_*_at` only where it is still NULL, in the transaction that queues the message, so
two workers racing send it once: the loser's UPDATE matches no row (PostgreSQL re-checks the
condition after the winner commits; SQLite has one writer).

Where it goes: the candidate's bound chat conversation on their first reachable channel
(a transcript row and its delivery, as HR's replies go), else their e-mail. SMS needs a
provider template and is passed over. A candidate who asked for no proactive messages gets
none, recorded as skipped.

Quiet hours (the outreach's, China time): a reminder due in them waits for their end when
that is still before the interview, and is skipped otherwise. A 24-hour reminder not sent
before the 2-hour one falls due is superseded by it. A booking made after a reminder's time
(booked the day before, say) never gets that one: the confirmation just told them.
Skipping sets the column too (the reminder is settled) and writes an audit row with why.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.delivery.direct import queue_direct
from candor.dialogue.service import send_to_conversation
from candor.logging import get_logger
from candor.models import Application, Candidate, ChatIdentity, Conversation, Job
from candor.models.enums import Channel, InterviewKind, Locale
from candor.models.scheduling import (
    BookingState,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SchedulingPolicy,
)
from candor.outreach.service import QuietHours, deliverable_channels
from candor.scheduling import notices
from candor.scheduling import service as scheduling
from candor.scheduling.errors import ChangeNotAllowedError

if TYPE_CHECKING:
    from candor.runtime import Runtime

log = get_logger(__name__)

AUTHOR = "system:reminders"


@dataclass(frozen=True, slots=True)
class Reminder:
    name: str  # "24h", "2h"
    before: timedelta
    column: str


DAY_BEFORE = Reminder("24h", timedelta(hours=24), "reminded_24h_at")
HOURS_BEFORE = Reminder("2h", timedelta(hours=2), "reminded_2h_at")
REMINDERS = (DAY_BEFORE, HOURS_BEFORE)
_CHAT_CHANNELS = (Channel.WECHAT, Channel.TELEGRAM, Channel.WEB)


async def due_booking_ids(session: AsyncSession, *, now: datetime) -> list[int]:
    """Confirmed bookings starting within a day with a reminder not yet settled."""
    return list(
        await session.scalars(
            select(InterviewBooking.id)
            .join(InterviewSlot, InterviewSlot.id == InterviewBooking.slot_id)
            .where(
                InterviewBooking.state == BookingState.CONFIRMED,
                InterviewSlot.starts_at > now,
                InterviewSlot.starts_at <= now + DAY_BEFORE.before,
                InterviewBooking.reminded_24h_at.is_(None)
                | InterviewBooking.reminded_2h_at.is_(None),
            )
            .order_by(InterviewSlot.starts_at, InterviewBooking.id)
        )
    )


def _due(booking: InterviewBooking, slot: InterviewSlot, now: datetime) -> list[Reminder]:
    """The reminders whose time has come, not settled, and not older than the booking."""
    confirmed_at = booking.confirmed_at or booking.created_at
    return [
        reminder
        for reminder in REMINDERS
        if getattr(booking, reminder.column) is None
        and slot.starts_at - reminder.before <= now < slot.starts_at
        and confirmed_at <= slot.starts_at - reminder.before
    ]


async def _claim(session: AsyncSession, booking_id: int, reminder: Reminder, now: datetime) -> bool:
    column = getattr(InterviewBooking, reminder.column)
    result = await session.execute(
        update(InterviewBooking)
        .where(
            InterviewBooking.id == booking_id,
            InterviewBooking.state == BookingState.CONFIRMED,
            column.is_(None),
        )
        .values({reminder.column: now})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remind(
    session: AsyncSession, booking_id: int, *, now: datetime, quiet_hours: QuietHours
) -> list[str]:
    """Send (or skip) the booking's due reminders; returns what was done, e.g.
    ["2h:sent"], ["24h:skipped:superseded", "2h:sent"]; [] when nothing was due yet."""
    booking = await session.get(InterviewBooking, booking_id)
    if booking is None or booking.state is not BookingState.CONFIRMED:
        return []
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    confirmed_at = booking.confirmed_at or booking.created_at
    for reminder in REMINDERS:
        if getattr(booking, reminder.column) is None and (
            confirmed_at > slot.starts_at - reminder.before
        ):
            # Booked after this reminder's time: it never comes, so it is settled now rather
            # than the booking being read again by every sweep until the interview.
            await _claim(session, booking.id, reminder, now)
            setattr(booking, reminder.column, now)
    due = _due(booking, slot, now)
    if not due:
        return []
    allowed = quiet_hours.next_allowed(now)
    if allowed > now and allowed < slot.starts_at:
        return []  # in quiet hours: it goes when they end
    done: list[str] = []
    *superseded, latest = due
    for reminder in superseded:
        if await _claim(session, booking.id, reminder, now):
            await _record_skip(session, booking, reminder, "superseded", now=now)
            done.append(f"{reminder.name}:skipped:superseded")
    if not await _claim(session, booking.id, latest, now):
        return done  # another worker has it
    if allowed > now:
        await _record_skip(session, booking, latest, "quiet_hours", now=now)
        return [*done, f"{latest.name}:skipped:quiet_hours"]
    sent = await _send(session, booking, slot, latest, now=now)
    if sent is None:
        await _record_skip(session, booking, latest, "no_channel", now=now)
        return [*done, f"{latest.name}:skipped:no_channel"]
    log.info("scheduling.reminded", booking=booking.id, reminder=latest.name, channel=sent.value)
    return [*done, f"{latest.name}:sent"]


async def _record_skip(
    session: AsyncSession,
    booking: InterviewBooking,
    reminder: Reminder,
    reason: str,
    *,
    now: datetime,
) -> None:
    application = await session.get_one(Application, booking.application_id)
    job = await session.get_one(Job, application.job_id)
    audit.record(
        session,
        actor=AUTHOR,
        action=audit.Action.BOOKING_REMINDER_SKIPPED,
        object_type="booking",
        object_id=booking.public_id,
        team_id=job.team_id,
        details={"reminder": reminder.name, "reason": reason},
        at=now,
    )
    log.info(
        "scheduling.reminder_skipped", booking=booking.id, reminder=reminder.name, reason=reason
    )


async def _send(
    session: AsyncSession,
    booking: InterviewBooking,
    slot: InterviewSlot,
    reminder: Reminder,
    *,
    now: datetime,
) -> Channel | None:
    """Queue the reminder on the candidate's channel; None when none can take it."""
    application = await session.get_one(Application, booking.application_id)
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    policy = await session.get(SchedulingPolicy, job.id)
    invitation = await session.get_one(SchedulingInvitation, booking.invitation_id)
    try:
        await scheduling.check_change_allowed(session, invitation, booking, moving=True, now=now)
        may_change = True
    except ChangeNotAllowedError:
        may_change = False  # past the policy: the reply goes to HR, so the text says so
    text = reminder_text(
        slot,
        job_title=job.title,
        locale=candidate.locale,
        zone=notices.candidate_zone(candidate),
        preparation=policy.preparation if policy is not None else "",
        may_change=may_change,
    )
    channels = await deliverable_channels(session, candidate)
    for channel in channels:
        if channel in _CHAT_CHANNELS:
            conversation = await session.scalar(
                select(Conversation)
                .join(ChatIdentity, ChatIdentity.id == Conversation.chat_identity_id)
                .where(
                    ChatIdentity.candidate_id == candidate.id,
                    ChatIdentity.channel == channel,
                    ChatIdentity.bound_at.is_not(None),
                    ChatIdentity.opted_out_at.is_(None),
                )
                .order_by(Conversation.last_message_at.desc())
                .limit(1)
            )
            if conversation is None:
                continue
            if (
                channel is Channel.WECHAT
                and Channel.EMAIL in channels
                and candidate.email
                and not await notices.wechat_window_open(session, conversation.id, now)
            ):
                # WeChat refuses a chat message outside the 48 hours after the candidate's
                # last one; an e-mail reaches them for sure.
                continue
            await send_to_conversation(session, conversation, text, author=AUTHOR, now=now)
            return channel
        if channel is Channel.EMAIL and candidate.email:
            queue_direct(
                session,
                channel=Channel.EMAIL,
                recipient=candidate.email,
                subject=SUBJECT[_lang(candidate.locale)].format(job=job.title),
                body=text,
                locale=candidate.locale,
                now=now,
            )
            return channel
    return None


async def send_due_reminders(runtime: Runtime, *, now: datetime, quiet_hours: QuietHours) -> int:
    """The worker's sweep: lapsed holds give their seats back, then each booking with a
    reminder due is handled by id in its own transaction. Returns how many rows it handled."""
    async with runtime.transaction() as session:
        handled = await scheduling.release_lapsed_holds(session, now=now)
        due = await due_booking_ids(session, now=now)
    for booking_id in due:
        async with runtime.transaction() as session:
            handled += len(await remind(session, booking_id, now=now, quiet_hours=quiet_hours))
    return handled


# -- The text -----------------------------------------------------------------------------------

SUBJECT = {"zh": "面试提醒：{job}", "en": "Interview reminder: {job}"}
_KIND = {
    "zh": {
        InterviewKind.ONSITE: "现场",
        InterviewKind.PHONE: "电话",
        InterviewKind.AI_VIDEO: "视频",
    },
    "en": {
        InterviewKind.ONSITE: "on-site",
        InterviewKind.PHONE: "phone",
        InterviewKind.AI_VIDEO: "video",
    },
}


def _lang(locale: Locale) -> str:
    return "en" if locale is Locale.EN else "zh"


def reminder_text(
    slot: InterviewSlot,
    *,
    job_title: str,
    locale: Locale,
    zone: zoneinfo.ZoneInfo,
    preparation: str,
    may_change: bool,
) -> str:
    lang = _lang(locale)
    when = notices.when(slot, zone, locale)
    kind = _KIND[lang].get(slot.kind, "")
    if lang == "zh":
        lines = [f"面试提醒：您应聘「{job_title}」的{kind}面试将于 {when} 开始。"]
        if slot.location:
            lines.append(f"地点：{slot.location}")
        if slot.video_link:
            lines.append(f"视频链接：{slot.video_link}")
        if preparation:
            lines.append(f"请准备：{preparation}")
        lines.append(
            "如果去不了，请回复“我去不了”，我们会为您提供其他时间。"
            if may_change
            else "如果去不了，请回复“我去不了”，我们会转告 HR 为您另行安排。"
        )
    else:
        lines = [f"Reminder: your {kind} interview for {job_title} starts {when}."]
        if slot.location:
            lines.append(f"Place: {slot.location}")
        if slot.video_link:
            lines.append(f"Video link: {slot.video_link}")
        if preparation:
            lines.append(f"Please prepare: {preparation}")
        lines.append(
            "If you can't make it, reply \"I can't make it\" to pick another time."
            if may_change
            else "If you can't make it, reply \"I can't make it\" and HR will rearrange it."
        )
    return "\n".join(lines)
