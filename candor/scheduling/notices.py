"""Telling the candidate when HR books, moves or cancels their interview.

The message goes to the candidate's bound chat (the conversation they used last), the way
HR's replies do, or by e-mail when no chat account is bound. It is written in the caller's
transaction with the change itself and sent by the delivery loop after commit, in the
candidate's language, with times in the candidate's zone (China time when unknown) and the
link to the .ics file of a booked time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import BUSINESS_TZ
from candor.delivery.direct import queue_direct
from candor.dialogue.service import send_to_conversation
from candor.logging import get_logger
from candor.models import (
    Application,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    Job,
)
from candor.models.chat import Direction
from candor.models.enums import Channel, Locale
from candor.models.scheduling import (
    BUSINESS_ZONE,
    InterviewBooking,
    InterviewSlot,
    SchedulingPolicy,
)
from candor.scheduling.links import ics_url
from candor.settings import Settings

log = get_logger(__name__)

# WeChat takes chat messages for 48 hours after the user's last one; a margin for the clock.
WECHAT_WINDOW = timedelta(hours=47)
_WEEKDAYS = {
    Locale.ZH_CN: ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    Locale.EN: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Change(StrEnum):
    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Told:
    """How the candidate was told: the channel, or None when nothing could be sent."""

    channel: Channel | None
    body: str


def candidate_zone(candidate: Candidate) -> ZoneInfo:
    """The zone the candidate reads times in: theirs when known and valid, else China's."""
    if candidate.time_zone:
        try:
            return ZoneInfo(candidate.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return BUSINESS_TZ


def _zone_label(zone: ZoneInfo, locale: Locale) -> str:
    if zone.key == BUSINESS_ZONE:
        return "北京时间" if locale is Locale.ZH_CN else "China time"
    return zone.key


def when(slot: InterviewSlot, zone: ZoneInfo, locale: Locale) -> str:
    """The slot's time as the candidate reads it: "2026年3月12日（周四）14:00–14:45（北京时间）"
    or "Thu 12 Mar 2026, 14:00–14:45 (China time)"."""
    start = slot.starts_at.astimezone(zone)
    end = slot.ends_at.astimezone(zone)
    day = _WEEKDAYS[locale][start.weekday()]
    end_text = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%m-%d %H:%M")
    label = _zone_label(zone, locale)
    if locale is Locale.ZH_CN:
        return (
            f"{start.year}年{start.month}月{start.day}日（{day}）"
            f"{start:%H:%M}–{end_text}（{label}）"
        )
    month = _MONTHS_EN[start.month - 1]
    return f"{day} {start.day} {month} {start.year}, {start:%H:%M}–{end_text} ({label})"


def _place(slot: InterviewSlot, locale: Locale) -> str:
    parts = []
    if slot.location:
        parts.append(("地点：" if locale is Locale.ZH_CN else "Place: ") + slot.location)
    if slot.video_link:
        parts.append(("视频链接：" if locale is Locale.ZH_CN else "Video link: ") + slot.video_link)
    return "\n".join(parts)


def compose(
    change: Change,
    *,
    locale: Locale,
    name: str,
    job_title: str,
    slot: InterviewSlot,
    zone: ZoneInfo,
    previous: InterviewSlot | None = None,
    reason: str | None = None,
    preparation: str = "",
    calendar_link: str | None = None,
) -> tuple[str, str]:
    """The subject (for e-mail) and body of the notice."""
    zh = locale is Locale.ZH_CN
    lines: list[str] = []
    if change is Change.CANCELLED:
        subject = f"面试已取消：{job_title}" if zh else f"Interview cancelled: {job_title}"
        lines.append(
            f"{name}您好，您原定于{when(slot, zone, locale)}的“{job_title}”面试已由招聘方取消。"
            if zh
            else f"Hello {name}, your interview for {job_title} on {when(slot, zone, locale)} "
            "has been cancelled by the recruiter."
        )
        if reason:
            lines.append(f"原因：{reason}" if zh else f"Reason: {reason}")
        lines.append(
            "如需另约时间，请直接回复本消息。"
            if zh
            else "Reply to this message if you would like another time."
        )
    else:
        if change is Change.MOVED and previous is not None:
            subject = f"面试时间已调整：{job_title}" if zh else f"Interview moved: {job_title}"
            lines.append(
                f"{name}您好，招聘方已将您“{job_title}”的面试从{when(previous, zone, locale)}"
                f"改到{when(slot, zone, locale)}。"
                if zh
                else f"Hello {name}, the recruiter moved your interview for {job_title} from "
                f"{when(previous, zone, locale)} to {when(slot, zone, locale)}."
            )
        else:
            subject = f"面试已安排：{job_title}" if zh else f"Interview booked: {job_title}"
            lines.append(
                f"{name}您好，招聘方已为您安排“{job_title}”的面试：{when(slot, zone, locale)}。"
                if zh
                else f"Hello {name}, the recruiter booked your interview for {job_title}: "
                f"{when(slot, zone, locale)}."
            )
        place = _place(slot, locale)
        if place:
            lines.append(place)
        if preparation:
            lines.append(("请准备：" if zh else "Please prepare: ") + preparation)
        if calendar_link:
            lines.append(("添加到日历：" if zh else "Add it to your calendar: ") + calendar_link)
        lines.append(
            "如需调整，请直接回复本消息。"
            if zh
            else "Reply to this message if you need to change it."
        )
    return subject, "\n".join(lines)


async def _bound_conversation(session: AsyncSession, candidate_id: int) -> Conversation | None:
    """The conversation of the candidate's bound chat account they used last (an account
    they stopped is skipped)."""
    return await session.scalar(
        select(Conversation)
        .join(ChatIdentity, ChatIdentity.id == Conversation.chat_identity_id)
        .where(
            ChatIdentity.candidate_id == candidate_id,
            ChatIdentity.bound_at.is_not(None),
            ChatIdentity.opted_out_at.is_(None),
            Conversation.candidate_id == candidate_id,
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )


async def wechat_window_open(session: AsyncSession, conversation_id: int, now: datetime) -> bool:
    """Whether WeChat surely still takes a chat message in the conversation: it does for 48
    hours after the candidate's last message (less a margin for the clock)."""
    last = await session.scalar(
        select(func.max(ChatMessage.at)).where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.direction == Direction.INBOUND,
        )
    )
    return last is not None and now - last < WECHAT_WINDOW


async def tell_candidate(
    session: AsyncSession,
    settings: Settings,
    booking: InterviewBooking,
    change: Change,
    *,
    actor: str,
    now: datetime,
    previous: InterviewSlot | None = None,
    reason: str | None = None,
) -> Told:
    """Queue the notice of HR's change to `booking` (for a cancellation, the booking that
    was cancelled; for a move, the new one with the old slot as `previous`)."""
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    application = await session.get_one(Application, booking.application_id)
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    policy = await session.get(SchedulingPolicy, job.id)
    locale = candidate.locale if candidate.locale in (Locale.ZH_CN, Locale.EN) else Locale.ZH_CN
    subject, body = compose(
        change,
        locale=locale,
        name=candidate.name,
        job_title=job.title,
        slot=slot,
        zone=candidate_zone(candidate),
        previous=previous,
        reason=reason,
        preparation=policy.preparation if policy is not None else "",
        calendar_link=None if change is Change.CANCELLED else ics_url(settings, booking.public_id),
    )
    if not candidate.consent_contact or candidate.proactive_opted_out_at is not None:
        # The candidate's word stands: they read it when they next ask in chat.
        log.info("scheduling.notice_withheld", booking=booking.id, change=change.value)
        return Told(None, body)
    conversation = await _bound_conversation(session, candidate.id)
    if (
        conversation is not None
        and conversation.channel is Channel.WECHAT
        and candidate.email
        and not await wechat_window_open(session, conversation.id, now)
    ):
        conversation = None  # WeChat would refuse it: the e-mail reaches them
    if conversation is not None:
        await send_to_conversation(session, conversation, body, author=actor, now=now)
        log.info("scheduling.notice_chat", booking=booking.id, change=change.value)
        return Told(conversation.channel, body)
    if candidate.email:
        queue_direct(
            session,
            channel=Channel.EMAIL,
            recipient=candidate.email,
            subject=subject,
            body=body,
            locale=locale,
            now=now,
        )
        await session.flush()
        log.info("scheduling.notice_email", booking=booking.id, change=change.value)
        return Told(Channel.EMAIL, body)
    log.info("scheduling.notice_unreachable", booking=booking.id, change=change.value)
    return Told(None, body)
