"""The approval inbox: pending drafts, and drafts whose template failed to render (they need
attention), most urgent first, with what HR needs to decide."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.delivery.sms_segments import segments
from candor.models import Interview, Team
from candor.models.enums import Channel, Decision
from candor.models.outreach import MessageState, MessageTemplate, OutreachMessage
from candor.outreach import queries
from candor.outreach.service import deliverable_channels
from candor.outreach.sms_form import fill
from candor.scheduling import service as scheduling
from candor.sla.calendar import WorkingCalendar

INBOX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ChannelRendering:
    """The message as it would reach the candidate on one channel."""

    channel: Channel
    subject: str | None
    body: str | None
    fields: dict[str, str]
    # SMS only: the segments `body` costs (None when the provider's text is not known).
    segments: int | None = None


@dataclass(frozen=True, slots=True)
class DraftCard:
    message: OutreachMessage
    team_name: str
    interview: Interview | None
    due_in_working_days: int | None  # 0 = due today, negative = overdue by that many
    renderings: list[ChannelRendering]
    # An advance for a job that books its next round in Candor: the delivery adds the
    # invitation to book (candor.scheduling.invitations), which HR is told here.
    invites_booking: bool = False


def due_in_working_days(calendar: WorkingCalendar, due_on: date, today: date) -> int:
    """Working days from today to the due date: 0 when due today, negative when overdue."""
    if due_on >= today:
        return sum(1 for day in calendar.days(today, due_on) if day.working and day.day > today)
    return -sum(1 for day in calendar.days(due_on, today) if day.working and day.day > due_on)


def renderings(
    message: OutreachMessage,
    channels: list[Channel],
    *,
    sms_preview_text: str | None = None,
    sms_sign_name: str = "",
) -> list[ChannelRendering]:
    """Per reachable channel; e-mail is shown even when unreachable, as the fallback's text.

    By SMS the candidate gets the provider's approved template filled with the drafted
    parameters: its text (and cost in segments) is known when the template gives it."""
    shown = channels or [Channel.EMAIL]
    result = []
    for channel in shown:
        if channel is Channel.EMAIL:
            result.append(ChannelRendering(channel, message.subject, message.body, {}))
        elif channel is Channel.SMS:
            text = (
                fill(sms_preview_text, message.sms_params)
                if sms_preview_text and message.sms_params
                else None
            )
            result.append(
                ChannelRendering(
                    channel,
                    None,
                    text,
                    dict(message.sms_params),
                    segments=segments(text, sms_sign_name) if text is not None else None,
                )
            )
        elif channel is Channel.WECHAT and message.wechat_data:
            result.append(ChannelRendering(channel, None, None, dict(message.wechat_data)))
        else:
            result.append(ChannelRendering(channel, None, message.body, {}))
    return result


async def draft_cards(
    session: AsyncSession,
    principal: HRPrincipal,
    calendar: WorkingCalendar,
    *,
    today: date,
    team_id: int | None = None,
    job_id: int | None = None,
    sms_sign_name: str = "",
) -> list[DraftCard]:
    """Pending drafts and drafts needing attention in the principal's teams, ordered by the
    promise deadline."""
    messages = await queries.list_messages(
        session,
        principal,
        queries.MessageFilter(
            team_id=team_id,
            job_id=job_id,
            states=(MessageState.NEEDS_ATTENTION, MessageState.PENDING_APPROVAL),
            limit=INBOX_LIMIT,
        ),
    )
    return [
        await draft_card(session, message, calendar, today=today, sms_sign_name=sms_sign_name)
        for message in messages
    ]


async def draft_card(
    session: AsyncSession,
    message: OutreachMessage,
    calendar: WorkingCalendar,
    *,
    today: date,
    sms_sign_name: str = "",
) -> DraftCard:
    application = message.application
    team = await session.get_one(Team, application.job.team_id)
    interview = (
        await session.scalar(select(Interview).where(Interview.id == message.interview_id))
        if message.interview_id is not None
        else None
    )
    due = (
        due_in_working_days(calendar, message.due_at.astimezone(BUSINESS_TZ).date(), today)
        if message.due_at is not None
        else None
    )
    channels = await deliverable_channels(session, application.candidate)
    sms_preview_text = (
        await session.scalar(
            select(MessageTemplate.sms_preview_text).where(
                MessageTemplate.id == message.template_id
            )
        )
        if Channel.SMS in channels
        else None
    )
    return DraftCard(
        message=message,
        team_name=team.name,
        interview=interview,
        due_in_working_days=due,
        # A draft that never rendered has no text to show on any channel.
        renderings=[]
        if message.state is MessageState.NEEDS_ATTENTION
        else renderings(
            message, channels, sms_preview_text=sms_preview_text, sms_sign_name=sms_sign_name
        ),
        invites_booking=message.outcome is Decision.ADVANCE
        and await scheduling.policy_of(session, application.job_id) is not None,
    )


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "same", "added" or "removed"
    text: str


def line_diff(before: str, after: str) -> list[DiffLine]:
    """A line diff of HR's edit, for the review step before edit-and-approve."""
    lines: list[DiffLine] = []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        tag, text = line[:2], line[2:]
        if tag == "  ":
            lines.append(DiffLine("same", text))
        elif tag == "- ":
            lines.append(DiffLine("removed", text))
        elif tag == "+ ":
            lines.append(DiffLine("added", text))
    return lines
