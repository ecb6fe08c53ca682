"""The records behind the KPI figures, listed from the base tables.

Each metric's conditions (`_*_conditions`) are written once here. The figures
(`candor.kpis.figures`) read the KPI facts, whose views (migration 0009) state the same
conditions in SQL; the tests check that every figure counts exactly its records.
Definitions: docs/kpis.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, ScalarSelect, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from candor.auth.principals import HRPrincipal
from candor.chat.teams import conversation_application, handoff_application
from candor.kpis.filters import Columns, KpiFilter, in_scope, local_day
from candor.kpis.promise import FeedbackClock, Promise, Timeliness
from candor.kpis.sql import local_date, plus_days
from candor.models import (
    Application,
    Candidate,
    ChatMessage,
    Conversation,
    CsatRating,
    Handoff,
    HrTask,
    Interview,
    Job,
    JobQuestion,
)
from candor.models.chat import Direction
from candor.models.enums import Channel, Decision, InterviewKind, Stage
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.sla.calendar import WorkingCalendar

UNSENT_STATES = (
    MessageState.PENDING_APPROVAL,
    MessageState.NEEDS_ATTENTION,
    MessageState.APPROVED,
    MessageState.EDITED_AND_APPROVED,
    MessageState.QUEUED,
)
DELIVERY_FINISHED = (OutboxState.SENT, OutboxState.PERMANENT_FAILURE, OutboxState.EXHAUSTED)
NEXT_ROUND_STAGES = (Stage.PHONE_INTERVIEW, Stage.ONSITE_INTERVIEW, Stage.OFFER, Stage.HIRED)
OFFER_STAGES = (Stage.OFFER, Stage.HIRED)
FUNNEL_STEPS = ("applied", "ai_interview_completed", "result_sent", "next_round", "offer")
REPLY_WINDOW_DAYS = 7  # a candidate's chat message this soon after a result is a reply to it
HR_AUTHOR_PREFIX = "user:"  # chat messages a person wrote (`HRPrincipal.actor`)
CSAT_SCALE = (1, 2, 3, 4, 5)
INTERVIEW_CHUNK = 5000  # interview ids per query for their messages


# --- Interviews and the feedback promise -------------------------------------------------


def _interview_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [Interview.completed_at >= filters.start_utc, Interview.completed_at < filters.end_utc]


@dataclass(frozen=True, slots=True)
class InterviewRecord:
    interview_id: int
    application_id: int
    application_code: str
    candidate_name: str
    team_id: int
    completed_at: datetime
    due_on: date
    message_id: int | None  # the first message sent for this interview, else the latest
    sent_at: datetime | None
    timeliness: Timeliness
    working_days_to_feedback: int | None


class _InterviewMessage(NamedTuple):
    message_id: int
    sent_at: datetime | None
    due_at: datetime | None


async def _interview_messages(
    session: AsyncSession, interview_ids: list[int]
) -> dict[int, list[_InterviewMessage]]:
    """Every message of each interview, read in chunks of ids."""
    messages: dict[int, list[_InterviewMessage]] = defaultdict(list)
    for chunk_start in range(0, len(interview_ids), INTERVIEW_CHUNK):
        chunk = interview_ids[chunk_start : chunk_start + INTERVIEW_CHUNK]
        for found_id, interview_id, sent_at, due_at in (
            await session.execute(
                select(
                    OutreachMessage.id,
                    OutreachMessage.interview_id,
                    OutreachMessage.sent_at,
                    OutreachMessage.due_at,
                ).where(OutreachMessage.interview_id.in_(chunk))
            )
        ).all():
            assert interview_id is not None
            messages[interview_id].append(_InterviewMessage(found_id, sent_at, due_at))
    return messages


async def interview_records(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
    now: datetime,
) -> list[InterviewRecord]:
    """Every interview completed in the range, with whether its candidate heard back in time.

    The promised day is the earliest stated on the interview's result messages when there
    is one (the promise as it was made), else the calendar's deadline for its completion.
    """
    query = select(
        Interview.id,
        Interview.completed_at,
        Application.id,
        Application.code,
        Candidate.name,
        Job.team_id,
    ).select_from(Interview)
    rows = (
        await session.execute(
            in_scope(
                query.join(Application, Application.id == Interview.application_id),
                principal,
                filters,
            )
            .where(*_interview_conditions(filters))
            .join(Candidate, Candidate.id == Application.candidate_id)
            .order_by(Interview.completed_at, Interview.id)
        )
    ).all()
    messages = await _interview_messages(session, [row[0] for row in rows])
    clock = FeedbackClock(calendar, promise_working_days, now)
    records = []
    for interview_id, completed_at, app_id, code, name, team_id in rows:
        assert completed_at is not None  # the range filter excludes NULL
        own = messages.get(interview_id, [])
        sent = sorted(
            (m for m in own if m.sent_at is not None), key=lambda m: (m.sent_at, m.message_id)
        )
        stated_due = min((m.due_at for m in own if m.due_at is not None), default=None)
        sent_at = sent[0].sent_at if sent else None
        feedback = clock.classify(
            local_day(completed_at),
            local_day(sent_at) if sent_at is not None else None,
            local_day(stated_due) if stated_due is not None else None,
        )
        message_id = sent[0].message_id if sent else max((m.message_id for m in own), default=None)
        records.append(
            InterviewRecord(
                interview_id=interview_id,
                application_id=app_id,
                application_code=code,
                candidate_name=name,
                team_id=team_id,
                completed_at=completed_at,
                due_on=feedback.due_on,
                message_id=message_id,
                sent_at=sent_at,
                timeliness=feedback.timeliness,
                working_days_to_feedback=feedback.working_days,
            )
        )
    return records


# --- Result messages: breaches and HR decisions ------------------------------------------


def breach_conditions(now: datetime) -> list[ColumnElement[bool]]:
    """Messages not sent yet whose promised deadline has passed."""
    return [OutreachMessage.state.in_(UNSENT_STATES), OutreachMessage.due_at < now]


def needs_attention_conditions() -> list[ColumnElement[bool]]:
    """Drafts whose template failed to render, waiting for HR: open now."""
    return [OutreachMessage.state == MessageState.NEEDS_ATTENTION]


def _approval_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        OutreachMessage.decided_by.like("user:%"),
        OutreachMessage.decided_at >= filters.start_utc,
        OutreachMessage.decided_at < filters.end_utc,
    ]


def messages_in_scope(
    query: Select[*Columns], principal: HRPrincipal, filters: KpiFilter
) -> Select[*Columns]:
    """`query`, selecting from the messages, narrowed to those in scope."""
    return in_scope(
        query.join(Application, Application.id == OutreachMessage.application_id),
        principal,
        filters,
    )


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: int
    application_code: str
    candidate_name: str
    team_id: int
    state: MessageState
    created_at: datetime
    due_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None


async def _message_records(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    *where: ColumnElement[bool],
    order_by: tuple[Any, ...],
) -> list[MessageRecord]:
    query = select(
        OutreachMessage.id,
        Application.code,
        Candidate.name,
        Job.team_id,
        OutreachMessage.state,
        OutreachMessage.created_at,
        OutreachMessage.due_at,
        OutreachMessage.decided_by,
        OutreachMessage.decided_at,
    ).select_from(OutreachMessage)
    query = (
        messages_in_scope(query, principal, filters)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(*where)
        .order_by(*order_by)
    )
    return [MessageRecord(*row) for row in (await session.execute(query)).all()]


async def open_breach_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter, *, now: datetime
) -> list[MessageRecord]:
    """Messages not sent yet whose promised deadline has passed: open now, whatever the
    date range (the team, recruiter and job filters apply)."""
    return await _message_records(
        session,
        principal,
        filters,
        *breach_conditions(now),
        order_by=(OutreachMessage.due_at, OutreachMessage.id),
    )


async def needs_attention_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[MessageRecord]:
    """Drafts needing attention now, whatever the date range (the team, recruiter and job
    filters apply), the most urgent promise first."""
    return await _message_records(
        session,
        principal,
        filters,
        *needs_attention_conditions(),
        order_by=(OutreachMessage.due_at, OutreachMessage.id),
    )


async def approval_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[MessageRecord]:
    """Messages a person approved, edited or rejected, decided within the range."""
    return await _message_records(
        session,
        principal,
        filters,
        *_approval_conditions(filters),
        order_by=(OutreachMessage.decided_at, OutreachMessage.id),
    )


# --- Deliveries --------------------------------------------------------------------------


def _delivery_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        OutboxItem.state.in_(DELIVERY_FINISHED),
        OutboxItem.created_at >= filters.start_utc,
        OutboxItem.created_at < filters.end_utc,
    ]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    outbox_id: int
    message_id: int
    application_code: str
    team_id: int
    channel: Channel
    state: OutboxState
    created_at: datetime
    last_error: str | None

    @property
    def succeeded(self) -> bool:
        return self.state is OutboxState.SENT


async def delivery_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[DeliveryRecord]:
    """Finished deliveries (sent, or given up on that channel) queued within the range."""
    query = (
        select(
            OutboxItem.id,
            OutboxItem.message_id,
            Application.code,
            Job.team_id,
            OutboxItem.channel,
            OutboxItem.state,
            OutboxItem.created_at,
            OutboxItem.last_error,
        )
        .select_from(OutboxItem)
        .join(OutreachMessage, OutreachMessage.id == OutboxItem.message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
    )
    query = (
        in_scope(query, principal, filters)
        .where(*_delivery_conditions(filters))
        .order_by(OutboxItem.id)
    )
    return [DeliveryRecord(*row) for row in (await session.execute(query)).all()]


# --- The funnel --------------------------------------------------------------------------


def _funnel_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        Application.applied_at >= filters.start_utc,
        Application.applied_at < filters.end_utc,
    ]


def _ai_interview_done() -> ColumnElement[bool]:
    return exists().where(
        Interview.application_id == Application.id,
        Interview.kind == InterviewKind.AI_VIDEO,
        Interview.completed_at.is_not(None),
    )


def _result_sent() -> ColumnElement[bool]:
    return exists().where(
        OutreachMessage.application_id == Application.id, OutreachMessage.sent_at.is_not(None)
    )


@dataclass(frozen=True, slots=True)
class FunnelRecord:
    application_id: int
    application_code: str
    candidate_name: str
    team_id: int
    applied_at: datetime
    stage: Stage
    ai_interview_completed: bool
    result_sent: bool

    def reached(self, step: str) -> bool:
        return {
            "applied": True,
            "ai_interview_completed": self.ai_interview_completed,
            "result_sent": self.result_sent,
            "next_round": self.stage in NEXT_ROUND_STAGES,
            "offer": self.stage in OFFER_STAGES,
        }[step]


async def funnel_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[FunnelRecord]:
    """Applications made within the range, and how far each got."""
    query = select(
        Application.id,
        Application.code,
        Candidate.name,
        Job.team_id,
        Application.applied_at,
        Application.stage,
        _ai_interview_done(),
        _result_sent(),
    ).select_from(Application)
    query = (
        in_scope(query, principal, filters)
        .where(*_funnel_conditions(filters))
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(Application.applied_at, Application.id)
    )
    return [
        FunnelRecord(a, c, n, t, at, stage, bool(ai), bool(s))
        for a, c, n, t, at, stage, ai, s in (await session.execute(query)).all()
    ]


# --- Conversations: reply rate, containment, handoffs, CSAT ------------------------------

# A conversation belongs to one chat account, not to an application: it counts for the job
# (and so the team and recruiter) of the application it is about (its candidate's latest
# unless the dialogue or the binding settled another), and a hand-off for the job of its own
# application: the rule that decides which team's HR reads and answers them
# (`candor.chat.teams`). Conversations not bound to a candidate belong to no team and are
# not counted.


def _conversations_in_scope(
    query: Select[*Columns],
    principal: HRPrincipal,
    filters: KpiFilter,
    application: ColumnElement[int] | None = None,
) -> Select[*Columns]:
    """`query`, which reaches the conversation, narrowed through the application it is about
    (or `application`, such as a hand-off's)."""
    concerned = conversation_application() if application is None else application
    return in_scope(query.join(Application, Application.id == concerned), principal, filters)


def _reply_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        OutreachMessage.sent_at >= filters.start_utc,
        OutreachMessage.sent_at < filters.end_utc,
    ]


def _replied() -> ColumnElement[bool]:
    """The candidate wrote in chat after the result was sent, within the reply window."""
    return exists().where(
        ChatMessage.candidate_id == Application.candidate_id,
        ChatMessage.direction == Direction.INBOUND,
        ChatMessage.at > OutreachMessage.sent_at,
        ChatMessage.at < plus_days(OutreachMessage.sent_at, REPLY_WINDOW_DAYS),
    )


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    message_id: int
    application_code: str
    candidate_name: str
    team_id: int
    outcome: Decision
    sent_at: datetime
    replied: bool


async def reply_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ReplyRecord]:
    """Result messages sent in the range, and whether the candidate wrote back in time."""
    query = select(
        OutreachMessage.id,
        Application.code,
        Candidate.name,
        Job.team_id,
        OutreachMessage.outcome,
        OutreachMessage.sent_at,
        _replied(),
    ).select_from(OutreachMessage)
    query = (
        messages_in_scope(query, principal, filters)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(*_reply_conditions(filters))
        .order_by(OutreachMessage.sent_at, OutreachMessage.id)
    )
    records = []
    for m, code, name, team, outcome, sent, replied in (await session.execute(query)).all():
        assert sent is not None  # the range filter excludes NULL
        records.append(ReplyRecord(m, code, name, team, outcome, sent, bool(replied)))
    return records


def _conversation_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        Conversation.started_at >= filters.start_utc,
        Conversation.started_at < filters.end_utc,
    ]


def _needed_a_person() -> ColumnElement[bool]:
    """A hand-off, an HR task or a question drafted for HR came out of the conversation."""
    return or_(
        exists().where(Handoff.conversation_id == Conversation.id),
        exists().where(HrTask.conversation_id == Conversation.id),
        exists().where(JobQuestion.conversation_id == Conversation.id),
    )


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    conversation_id: int
    application_code: str  # the application the conversation is about
    candidate_name: str
    team_id: int
    channel: Channel
    started_at: datetime
    contained: bool


async def conversation_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ConversationRecord]:
    """Conversations started in the range, and whether the bot handled them alone."""
    query = select(
        Conversation.id,
        Application.code,
        Candidate.name,
        Job.team_id,
        Conversation.channel,
        Conversation.started_at,
        _needed_a_person(),
    ).select_from(Conversation)
    query = (
        _conversations_in_scope(query, principal, filters)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(*_conversation_conditions(filters))
        .order_by(Conversation.started_at, Conversation.id)
    )
    return [
        ConversationRecord(c, code, name, team, channel, at, not bool(escalated))
        for c, code, name, team, channel, at, escalated in (await session.execute(query)).all()
    ]


def _handoff_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [Handoff.opened_at >= filters.start_utc, Handoff.opened_at < filters.end_utc]


def _first_hr_reply() -> ScalarSelect[datetime]:
    """The first message a person wrote in the conversation while it was handed off (NULL
    when there is none: `HandoffRecord.first_hr_reply_at` is optional)."""
    return (
        select(func.min(ChatMessage.at))
        .where(
            ChatMessage.conversation_id == Handoff.conversation_id,
            ChatMessage.direction == Direction.OUTBOUND,
            ChatMessage.author.like(f"{HR_AUTHOR_PREFIX}%"),
            ChatMessage.at >= Handoff.opened_at,
            or_(Handoff.closed_at.is_(None), ChatMessage.at <= Handoff.closed_at),
        )
        .correlate(Handoff)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    handoff_id: int
    conversation_id: int
    application_code: str
    candidate_name: str
    team_id: int
    reason: str
    opened_at: datetime
    first_hr_reply_at: datetime | None
    closed_at: datetime | None

    @property
    def answered(self) -> bool:
        return self.first_hr_reply_at is not None

    @property
    def response_hours(self) -> float | None:
        if self.first_hr_reply_at is None:
            return None
        return (self.first_hr_reply_at - self.opened_at).total_seconds() / 3600


async def handoff_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[HandoffRecord]:
    """Hand-offs opened in the range, with the first reply a person wrote in each."""
    query = (
        select(
            Handoff.id,
            Handoff.conversation_id,
            Application.code,
            Candidate.name,
            Job.team_id,
            Handoff.reason,
            Handoff.opened_at,
            _first_hr_reply(),
            Handoff.closed_at,
        )
        .select_from(Handoff)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
    )
    query = (
        _conversations_in_scope(query, principal, filters, handoff_application())
        .where(*_handoff_conditions(filters))
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(Handoff.opened_at, Handoff.id)
    )
    return [HandoffRecord(*row) for row in (await session.execute(query)).all()]


def _csat_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [CsatRating.asked_at >= filters.start_utc, CsatRating.asked_at < filters.end_utc]


def _interview_first_sent() -> ScalarSelect[datetime | None]:
    other = aliased(OutreachMessage)  # any of the interview's messages, not only the rated one
    return (
        select(func.min(other.sent_at))
        .where(other.interview_id == Interview.id)
        .correlate(Interview)
        .scalar_subquery()
    )


def _interview_stated_due() -> ScalarSelect[datetime | None]:
    other = aliased(OutreachMessage)  # any of the interview's messages, not only the rated one
    return (
        select(func.min(other.due_at))
        .where(other.interview_id == Interview.id)
        .correlate(Interview)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class CsatRecord:
    csat_id: int
    message_id: int
    application_code: str
    candidate_name: str
    team_id: int
    outcome: Decision
    promise: Promise
    asked_at: datetime
    rating: int | None
    rated_at: datetime | None


class _CsatRow(NamedTuple):
    """A satisfaction question with the result message it was about and the local days of
    that message's interview (None when it belongs to none)."""

    csat_id: int
    message_id: int
    application_code: str
    candidate_name: str
    team_id: int
    outcome: Decision
    completed_on: date | None
    sent_on: date | None
    due_on: date | None
    asked_at: datetime
    rating: int | None
    rated_at: datetime | None


async def csat_records(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
    now: datetime,
) -> list[CsatRecord]:
    """Satisfaction questions asked in the range, their answers, and whether the promise
    was met for the interview the result was about."""
    clock = FeedbackClock(calendar, promise_working_days, now)
    query = (
        select(
            CsatRating.id,
            OutreachMessage.id,
            Application.code,
            Candidate.name,
            Job.team_id,
            OutreachMessage.outcome,
            local_date(Interview.completed_at),
            local_date(_interview_first_sent()),
            local_date(_interview_stated_due()),
            CsatRating.asked_at,
            CsatRating.rating,
            CsatRating.rated_at,
        )
        .select_from(CsatRating)
        .join(OutreachMessage, OutreachMessage.id == CsatRating.outreach_message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
        .outerjoin(Interview, Interview.id == OutreachMessage.interview_id)
    )
    query = (
        in_scope(query, principal, filters)
        .where(*_csat_conditions(filters))
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(CsatRating.asked_at, CsatRating.id)
    )
    rows = [_CsatRow(*row) for row in (await session.execute(query)).all()]
    return [
        CsatRecord(
            csat_id=row.csat_id,
            message_id=row.message_id,
            application_code=row.application_code,
            candidate_name=row.candidate_name,
            team_id=row.team_id,
            outcome=row.outcome,
            promise=clock.promise(row.completed_on, row.sent_on, row.due_on),
            asked_at=row.asked_at,
            rating=row.rating,
            rated_at=row.rated_at,
        )
        for row in rows
    ]
