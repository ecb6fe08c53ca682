"""Computing the response KPIs from the records behind them.

The figures (`figures`) are aggregated in SQL from the KPI facts (`candor.models.kpis`:
one narrow row per record, kept by the database's triggers, defined by views in migration
0009). The drill-down lists the same records from the base tables with each metric's
conditions (`_*_conditions`, the `*_records` functions), so every number can be traced to
the rows that make it; the tests check that both agree. The promise's day arithmetic is
done once per distinct day (`FeedbackClock`). Definitions: docs/kpis.md.

Dates are local (Asia/Shanghai): a range is whole local days, weeks start on Monday.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ, utcnow
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
    Team,
)
from candor.models.chat import Direction
from candor.models.enums import Channel, Decision, InterviewKind, Stage
from candor.models.kpis import (
    ApplicationFacts,
    ApprovalFacts,
    ConversationFacts,
    CsatFacts,
    DeliveryFacts,
    HandoffFacts,
    InterviewFacts,
    ReplyFacts,
)
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.sla.calendar import WorkingCalendar

MAX_RANGE_DAYS = 400
UNSENT_STATES = (
    MessageState.PENDING_APPROVAL,
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


class KpiFilterError(ValueError):
    """A filter the caller may not use or that makes no sense; `status_code` for the API."""

    def __init__(self, message: str, *, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class KpiFilter:
    start: date  # first local day, included
    end: date  # last local day, included
    team_ids: tuple[int, ...] = ()
    recruiter_id: int | None = None
    job_id: int | None = None

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=BUSINESS_TZ)

    @property
    def end_utc(self) -> datetime:
        """The instant after the range: the start of the day after `end`."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=BUSINESS_TZ)

    def weeks(self) -> list[date]:
        """The Mondays of every week that overlaps the range."""
        first = self.start - timedelta(days=self.start.weekday())
        return [first + timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]

    def for_team(self, team_id: int) -> KpiFilter:
        return KpiFilter(self.start, self.end, (team_id,), self.recruiter_id, self.job_id)


def check_filter(filters: KpiFilter, principal: HRPrincipal) -> None:
    """Refuse ranges that are inverted or too long, and teams the principal cannot see."""
    if filters.end < filters.start:
        raise KpiFilterError(f"'to' {filters.end} is before 'from' {filters.start}")
    if (filters.end - filters.start).days >= MAX_RANGE_DAYS:
        raise KpiFilterError(f"ask for at most {MAX_RANGE_DAYS} days at a time")
    hidden = [t for t in filters.team_ids if not principal.can_see_team(t)]
    if hidden:
        # As with any object: another team's figures are indistinguishable from no team.
        raise KpiFilterError(f"no team {hidden[0]}", status_code=404)


def week_of(moment: datetime) -> date:
    local = moment.astimezone(BUSINESS_TZ).date()
    return local - timedelta(days=local.weekday())


def _local_day(moment: datetime) -> date:
    return moment.astimezone(BUSINESS_TZ).date()


def _scope(principal: HRPrincipal, filters: KpiFilter) -> ColumnElement[bool]:
    """Which jobs count: the principal's teams, narrowed by the team, recruiter and job."""
    clauses: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        clauses.append(Job.team_id.in_(principal.team_ids or {-1}))
    if filters.team_ids:
        clauses.append(Job.team_id.in_(filters.team_ids))
    if filters.recruiter_id is not None:
        clauses.append(Job.recruiter_id == filters.recruiter_id)
    if filters.job_id is not None:
        clauses.append(Job.id == filters.job_id)
    return and_(true(), *clauses)


def _in_scope(query: Any, principal: HRPrincipal, filters: KpiFilter) -> Any:
    """`query`, which reaches the application, narrowed through its job to `_scope`."""
    return query.join(Job, Job.id == Application.job_id).where(_scope(principal, filters))


def _message_scope_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of the messages in scope."""
    query = (
        select(*columns)
        .select_from(OutreachMessage)
        .join(Application, Application.id == OutreachMessage.application_id)
    )
    return _in_scope(query, principal, filters)


def _interview_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of the interviews in scope completed in the range: the figures and records."""
    query = (
        select(*columns)
        .select_from(Interview)
        .join(Application, Application.id == Interview.application_id)
    )
    return _in_scope(query, principal, filters).where(*_interview_conditions(filters))


def _funnel_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of the applications in scope made in the range: the funnel and its records."""
    query = select(*columns).select_from(Application)
    return _in_scope(query, principal, filters).where(*_funnel_conditions(filters))


def _delivery_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of the finished deliveries in scope and range: the figure and its records."""
    query = (
        select(*columns)
        .select_from(OutboxItem)
        .join(OutreachMessage, OutreachMessage.id == OutboxItem.message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
    )
    return _in_scope(query, principal, filters).where(*_delivery_conditions(filters))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _timeliness_rate(by_status: dict[Timeliness, int]) -> float | None:
    """In time out of those decided either way: a pending interview is not late yet."""
    decided = sum(by_status.values()) - by_status[Timeliness.PENDING]
    return _rate(by_status[Timeliness.IN_TIME], decided)


# --- Records -----------------------------------------------------------------------------

# Each metric's conditions are defined once and used by both its figure (aggregated in
# SQL) and its records (the drill-down), so the two cannot disagree.


def _interview_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [Interview.completed_at >= filters.start_utc, Interview.completed_at < filters.end_utc]


def _breach_conditions(now: datetime) -> list[ColumnElement[bool]]:
    return [OutreachMessage.state.in_(UNSENT_STATES), OutreachMessage.due_at < now]


def _approval_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        OutreachMessage.decided_by.like("user:%"),
        OutreachMessage.decided_at >= filters.start_utc,
        OutreachMessage.decided_at < filters.end_utc,
    ]


def _delivery_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [
        OutboxItem.state.in_(DELIVERY_FINISHED),
        OutboxItem.created_at >= filters.start_utc,
        OutboxItem.created_at < filters.end_utc,
    ]


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


class Timeliness(StrEnum):
    IN_TIME = "in_time"  # notified on or before the promised day
    LATE = "late"  # notified after it, or not notified and the day has passed
    PENDING = "pending"  # not notified yet, and the promised day has not passed


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
    rows = (
        await session.execute(
            _interview_query(
                principal,
                filters,
                Interview.id,
                Interview.completed_at,
                Application.id,
                Application.code,
                Candidate.name,
                Job.team_id,
            )
            .join(Candidate, Candidate.id == Application.candidate_id)
            .order_by(Interview.completed_at, Interview.id)
        )
    ).all()
    messages: dict[int, list[tuple[int, datetime | None, datetime | None]]] = defaultdict(list)
    interview_ids = [row[0] for row in rows]
    for chunk_start in range(0, len(interview_ids), 5000):
        chunk = interview_ids[chunk_start : chunk_start + 5000]
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
            messages[interview_id].append((found_id, sent_at, due_at))
    clock = FeedbackClock(calendar, promise_working_days, now)
    records = []
    for interview_id, completed_at, app_id, code, name, team_id in rows:
        assert completed_at is not None  # the range filter excludes NULL
        own = messages.get(interview_id, [])
        sent = sorted((m for m in own if m[1] is not None), key=lambda m: (m[1], m[0]))
        stated_due = min((m[2] for m in own if m[2] is not None), default=None)
        sent_at = sent[0][1] if sent else None
        due_on, timeliness, working_days = clock.classify(
            _local_day(completed_at),
            _local_day(sent_at) if sent_at is not None else None,
            _local_day(stated_due) if stated_due is not None else None,
        )
        message_id = sent[0][0] if sent else max((m[0] for m in own), default=None)
        records.append(
            InterviewRecord(
                interview_id=interview_id,
                application_id=app_id,
                application_code=code,
                candidate_name=name,
                team_id=team_id,
                completed_at=completed_at,
                due_on=due_on,
                message_id=message_id,
                sent_at=sent_at,
                timeliness=timeliness,
                working_days_to_feedback=working_days,
            )
        )
    return records


def working_days_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when sent the same day, or
    on days off only): the count the feedback promise is made in."""
    if end <= start:
        return 0
    return sum(1 for day in calendar.days(start + timedelta(days=1), end) if day.working)


class FeedbackClock:
    """The promise's day arithmetic for one report, memoised by date: a report meets the
    same few hundred dates over and over, and walking the calendar is the costly part."""

    def __init__(self, calendar: WorkingCalendar, promise_working_days: int, now: datetime):
        self.calendar = calendar
        self.promise_working_days = promise_working_days
        self.today = _local_day(now)
        self._due: dict[date, date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def due_on(self, completed_on: date) -> date:
        """The calendar's promised day for an interview completed on `completed_on`."""
        found = self._due.get(completed_on)
        if found is None:
            found = self.calendar.walk(completed_on, self.promise_working_days)[-1].day
            self._due[completed_on] = found
        return found

    def working_days(self, start: date, end: date) -> int:
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = working_days_between(self.calendar, start, end)
            self._between[key] = found
        return found

    def classify(
        self, completed_on: date, sent_on: date | None, stated_due_on: date | None
    ) -> tuple[date, Timeliness, int | None]:
        """(promised day, timeliness, working days to feedback) for one interview: the day
        stated on its message when there is one, else the calendar's deadline."""
        due_on = stated_due_on if stated_due_on is not None else self.due_on(completed_on)
        if sent_on is not None:
            timeliness = Timeliness.IN_TIME if sent_on <= due_on else Timeliness.LATE
            return due_on, timeliness, self.working_days(completed_on, sent_on)
        return due_on, Timeliness.LATE if self.today > due_on else Timeliness.PENDING, None


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
    order_by: Sequence[Any],
) -> list[MessageRecord]:
    query = (
        _message_scope_query(
            principal,
            filters,
            OutreachMessage.id,
            Application.code,
            Candidate.name,
            Job.team_id,
            OutreachMessage.state,
            OutreachMessage.created_at,
            OutreachMessage.due_at,
            OutreachMessage.decided_by,
            OutreachMessage.decided_at,
        )
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
        *_breach_conditions(now),
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
    query = _delivery_query(
        principal,
        filters,
        OutboxItem.id,
        OutboxItem.message_id,
        Application.code,
        Job.team_id,
        OutboxItem.channel,
        OutboxItem.state,
        OutboxItem.created_at,
        OutboxItem.last_error,
    ).order_by(OutboxItem.id)
    return [DeliveryRecord(*row) for row in (await session.execute(query)).all()]


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
    query = (
        _funnel_query(
            principal,
            filters,
            Application.id,
            Application.code,
            Candidate.name,
            Job.team_id,
            Application.applied_at,
            Application.stage,
            _ai_interview_done(),
            _result_sent(),
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(Application.applied_at, Application.id)
    )
    return [
        FunnelRecord(a, c, n, t, at, stage, bool(ai), bool(s))
        for a, c, n, t, at, stage, ai, s in (await session.execute(query)).all()
    ]


# --- Conversations: reply rate, containment, handoffs, CSAT --------------------------------

# A conversation belongs to one chat account, not to an application: it counts for the job
# (and so the team and recruiter) of its candidate's latest application, the same rule that
# decides which team's HR may read it (`candor.dialogue.service.team_of_conversation`).
# Conversations not bound to a candidate belong to no team and are not counted.


def _latest_application_id() -> Any:
    latest = aliased(Application)
    return (
        select(latest.id)
        .where(latest.candidate_id == Conversation.candidate_id)
        .order_by(latest.applied_at.desc(), latest.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


def _conversation_scope(query: Any, principal: HRPrincipal, filters: KpiFilter) -> Any:
    """`query`, which reaches the conversation, narrowed through its latest application."""
    return _in_scope(
        query.join(Application, Application.id == _latest_application_id()), principal, filters
    )


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


def _handoff_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [Handoff.opened_at >= filters.start_utc, Handoff.opened_at < filters.end_utc]


def _first_hr_reply() -> Any:
    """The first message a person wrote in the conversation while it was handed off."""
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


def _csat_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    return [CsatRating.asked_at >= filters.start_utc, CsatRating.asked_at < filters.end_utc]


def _interview_first_sent() -> Any:
    other = aliased(OutreachMessage)  # any of the interview's messages, not only the rated one
    return (
        select(func.min(other.sent_at))
        .where(other.interview_id == Interview.id)
        .correlate(Interview)
        .scalar_subquery()
    )


def _interview_stated_due() -> Any:
    other = aliased(OutreachMessage)  # any of the interview's messages, not only the rated one
    return (
        select(func.min(other.due_at))
        .where(other.interview_id == Interview.id)
        .correlate(Interview)
        .scalar_subquery()
    )


def _csat_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of the satisfaction questions in scope asked in the range, with the result
    message they were about and its interview (if any)."""
    query = (
        select(*columns)
        .select_from(CsatRating)
        .join(OutreachMessage, OutreachMessage.id == CsatRating.outreach_message_id)
        .join(Application, Application.id == OutreachMessage.application_id)
        .outerjoin(Interview, Interview.id == OutreachMessage.interview_id)
    )
    return _in_scope(query, principal, filters).where(*_csat_conditions(filters))


class Promise(StrEnum):
    MET = "met"  # the interview's candidate was notified within the promise
    MISSED = "missed"  # notified after the promised day
    UNKNOWN = "unknown"  # the result belongs to no interview, or none was sent yet


def _promise(
    clock: FeedbackClock, completed_on: date | None, sent_on: date | None, due_on: date | None
) -> Promise:
    if completed_on is None or sent_on is None:
        return Promise.UNKNOWN
    _, timeliness, _ = clock.classify(completed_on, sent_on, due_on)
    return Promise.MET if timeliness is Timeliness.IN_TIME else Promise.MISSED


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
    query = (
        _message_scope_query(
            principal,
            filters,
            OutreachMessage.id,
            Application.code,
            Candidate.name,
            Job.team_id,
            OutreachMessage.outcome,
            OutreachMessage.sent_at,
            _replied(),
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(*_reply_conditions(filters))
        .order_by(OutreachMessage.sent_at, OutreachMessage.id)
    )
    return [
        ReplyRecord(m, code, name, team, outcome, sent, bool(replied))
        for m, code, name, team, outcome, sent, replied in (await session.execute(query)).all()
    ]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    conversation_id: int
    application_code: str  # the candidate's latest application
    candidate_name: str
    team_id: int
    channel: Channel
    started_at: datetime
    contained: bool


async def conversation_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ConversationRecord]:
    """Conversations started in the range, and whether the bot handled them alone."""
    query = (
        _conversation_scope(
            select(
                Conversation.id,
                Application.code,
                Candidate.name,
                Job.team_id,
                Conversation.channel,
                Conversation.started_at,
                _needed_a_person(),
            ).select_from(Conversation),
            principal,
            filters,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(*_conversation_conditions(filters))
        .order_by(Conversation.started_at, Conversation.id)
    )
    return [
        ConversationRecord(c, code, name, team, channel, at, not bool(escalated))
        for c, code, name, team, channel, at, escalated in (await session.execute(query)).all()
    ]


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


def _handoff_query(principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    query = (
        select(*columns)
        .select_from(Handoff)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
    )
    return _conversation_scope(query, principal, filters).where(*_handoff_conditions(filters))


async def handoff_records(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[HandoffRecord]:
    """Hand-offs opened in the range, with the first reply a person wrote in each."""
    query = (
        _handoff_query(
            principal,
            filters,
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
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(Handoff.opened_at, Handoff.id)
    )
    return [HandoffRecord(*row) for row in (await session.execute(query)).all()]


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
        _csat_query(
            principal,
            filters,
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
        .join(Candidate, Candidate.id == Application.candidate_id)
        .order_by(CsatRating.asked_at, CsatRating.id)
    )
    return [
        CsatRecord(
            csat_id,
            message_id,
            code,
            name,
            team,
            outcome,
            _promise(clock, completed_on, sent_on, due_on),
            asked_at,
            rating,
            rated_at,
        )
        for (
            csat_id,
            message_id,
            code,
            name,
            team,
            outcome,
            completed_on,
            sent_on,
            due_on,
            asked_at,
            rating,
            rated_at,
        ) in (await session.execute(query)).all()
    ]


# --- Figures -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekFigures:
    week: date  # Monday
    completed: int
    in_time: int
    late: int
    pending: int
    timeliness_rate: float | None  # in_time / (completed - pending)
    median_working_days: float | None
    applied: int
    results_sent: int = 0  # by week of sending
    replied: int = 0
    reply_rate: float | None = None
    conversations_started: int = 0  # by week of start
    contained: int = 0
    containment_rate: float | None = None
    handoffs: int = 0  # by week of opening
    csat_asked: int = 0  # by week of asking
    csat_rated: int = 0
    csat_mean: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: Channel
    finished: int
    sent: int
    success_rate: float | None


@dataclass(frozen=True, slots=True)
class CsatFigures:
    """Satisfaction answers: all of them, or one group (`key`: an outcome or a promise)."""

    key: str
    asked: int
    rated: int
    response_rate: float | None  # rated / asked
    mean: float | None
    distribution: dict[int, int]  # rating 1..5 -> answers


@dataclass(frozen=True, slots=True)
class Figures:
    interviews_completed: int
    notified_in_time: int
    notified_late_or_missed: int
    pending_within_promise: int
    timeliness_rate: float | None
    time_to_feedback_median: float | None
    time_to_feedback_p90: float | None
    breaches_open: int
    approvals: int
    approval_latency_median_hours: float | None
    approval_latency_p90_hours: float | None
    delivery: list[ChannelFigures]
    funnel: dict[str, int]
    results_sent: int
    results_replied: int
    reply_rate: float | None
    conversations_started: int
    conversations_contained: int
    containment_rate: float | None
    handoffs: int
    handoffs_answered: int
    hr_first_response_median_hours: float | None
    hr_first_response_p90_hours: float | None
    csat: CsatFigures
    csat_by_outcome: list[CsatFigures]
    csat_by_promise: list[CsatFigures]
    weeks: list[WeekFigures] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TeamFigures:
    team_id: int
    team_name: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class KpiReport:
    filters: KpiFilter
    generated_at: datetime
    promise_working_days: int
    figures: Figures
    teams: list[TeamFigures]


def _weighted_percentile(counts: dict[float, int], fraction: float) -> float | None:
    """The nearest-rank percentile of values given with their counts."""
    total = sum(counts.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    running = 0
    for value in sorted(counts):
        running += counts[value]
        if running >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True, slots=True)
class _FeedbackFacts:
    """Interviews grouped by (completion day, first sending day, stated promised day)."""

    completed_on: date
    sent_on: date | None
    stated_due_on: date | None
    interviews: int


def _facts_query(table: Any, principal: HRPrincipal, filters: KpiFilter, *columns: Any) -> Any:
    """`columns` of a KPI facts table (`candor.models.kpis`) in scope: its jobs are looked up
    once (a few hundred rows), never joined row by row."""
    query = select(*columns).select_from(table)
    scope = _scope(principal, filters)
    if principal.is_admin and not (filters.team_ids or filters.recruiter_id or filters.job_id):
        return query
    return query.where(table.job_id.in_(select(Job.id).where(scope)))


def _days(column: Any, filters: KpiFilter) -> list[ColumnElement[bool]]:
    """A facts table's local day within the range (both ends included)."""
    return [column >= filters.start, column <= filters.end]


async def _feedback_facts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[_FeedbackFacts]:
    f = InterviewFacts
    days = (f.completed_on, f.sent_on, f.due_on)
    query = (
        _facts_query(f, principal, filters, *days, func.count())
        .where(*_days(f.completed_on, filters))
        .group_by(*days)
    )
    rows = (await session.execute(query)).all()
    return [_FeedbackFacts(c, s, d, int(n)) for c, s, d, n in rows]


async def _funnel_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> tuple[dict[str, int], dict[date, int]]:
    """The funnel's step counts, and applications made per week."""
    f = ApplicationFacts

    def count_if(
        condition: ColumnElement[bool] | InstrumentedAttribute[bool],
    ) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = (
        _facts_query(
            f,
            principal,
            filters,
            f.applied_on,
            func.count(),
            count_if(f.ai_interview_done),
            count_if(f.result_sent),
            count_if(f.stage.in_([s.value for s in NEXT_ROUND_STAGES])),
            count_if(f.stage.in_([s.value for s in OFFER_STAGES])),
        )
        .where(*_days(f.applied_on, filters))
        .group_by(f.applied_on)
    )
    totals = dict.fromkeys(FUNNEL_STEPS, 0)
    applied: dict[date, int] = defaultdict(int)
    for day, *counts in (await session.execute(query)).all():
        applied[_monday(day)] += int(counts[0])
        for step, count in zip(FUNNEL_STEPS, counts, strict=True):
            totals[step] += int(count or 0)
    return totals, applied


async def _delivery_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ChannelFigures]:
    f = DeliveryFacts
    query = (
        _facts_query(f, principal, filters, f.channel, f.state, func.count())
        .where(f.state.in_([s.value for s in DELIVERY_FINISHED]), *_days(f.created_on, filters))
        .group_by(f.channel, f.state)
    )
    finished: dict[Channel, int] = defaultdict(int)
    sent: dict[Channel, int] = defaultdict(int)
    for channel, state, count in (await session.execute(query)).all():
        finished[Channel(channel)] += int(count)
        if state == OutboxState.SENT.value:
            sent[Channel(channel)] += int(count)
    return [
        ChannelFigures(
            channel=channel,
            finished=finished[channel],
            sent=sent[channel],
            success_rate=_rate(sent[channel], finished[channel]),
        )
        for channel in sorted(finished, key=lambda c: c.value)
    ]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def _reply_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> dict[date, tuple[int, int]]:
    """(results sent, replied to) per week of sending."""
    f = ReplyFacts
    return await _weekly_counts(session, principal, filters, f, f.sent_on, f.replied)


async def _conversation_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> dict[date, tuple[int, int]]:
    """(conversations started, contained) per week of start."""
    f = ConversationFacts
    return await _weekly_counts(
        session, principal, filters, f, f.started_on, f.escalated, counted_when=False
    )


async def _weekly_counts(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    facts: Any,
    day: Any,
    flag: Any,
    *,
    counted_when: bool = True,
) -> dict[date, tuple[int, int]]:
    """(facts, facts whose `flag` is `counted_when`) per week of `day`."""
    query = (
        _facts_query(facts, principal, filters, day, flag, func.count())
        .where(*_days(day, filters))
        .group_by(day, flag)
    )
    weeks: dict[date, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for on, flagged, count in (await session.execute(query)).all():
        total, counted = weeks[_monday(on)]
        hit = int(count) if bool(flagged) is counted_when else 0
        weeks[_monday(on)] = (total + int(count), counted + hit)
    return weeks


def _hours(microseconds: int) -> float:
    """As `timedelta.total_seconds() / 3600` would give for the same duration."""
    return microseconds / 10**6 / 3600


@dataclass(frozen=True, slots=True)
class _Durations:
    """A count of durations with their nearest-rank median and p90, in hours."""

    count: int
    median: float | None
    p90: float | None


async def _durations(session: AsyncSession, query: Any, micros: Any) -> _Durations:
    """The durations `micros` (whole microseconds) of `query`'s rows. PostgreSQL ranks them
    itself (`percentile_disc` is the nearest rank); elsewhere they come grouped by value and
    are ranked here, the same way (`_weighted_percentile`)."""
    if _dialect(session) == "postgresql":
        count, median, p90 = (
            await session.execute(
                query.with_only_columns(
                    func.count(micros),
                    func.percentile_disc(0.5).within_group(micros),
                    func.percentile_disc(0.9).within_group(micros),
                )
            )
        ).one()
        return _Durations(
            int(count),
            None if median is None else _hours(int(median)),
            None if p90 is None else _hours(int(p90)),
        )
    counts: dict[float, int] = defaultdict(int)
    grouped = query.with_only_columns(micros, func.count()).where(micros.is_not(None))
    for value, count in (await session.execute(grouped.group_by(micros))).all():
        counts[_hours(int(value))] += int(count)
    return _Durations(
        sum(counts.values()),
        _weighted_percentile(counts, 0.5),
        _weighted_percentile(counts, 0.9),
    )


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else ""


async def _approval_latencies(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> _Durations:
    """HR decisions in the range, and their latency in hours."""
    f = ApprovalFacts
    query = _facts_query(f, principal, filters, f.latency_us).where(*_days(f.decided_on, filters))
    return await _durations(session, query, f.latency_us)


async def _handoff_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> tuple[dict[date, int], _Durations]:
    """Hand-offs opened per week, and the first HR replies' delays in hours."""
    f = HandoffFacts
    query = _facts_query(f, principal, filters, f.opened_on).where(*_days(f.opened_on, filters))
    weeks: dict[date, int] = defaultdict(int)
    for day, count in (
        await session.execute(
            query.with_only_columns(f.opened_on, func.count()).group_by(f.opened_on)
        )
    ).all():
        weeks[_monday(day)] += int(count)
    return weeks, await _durations(session, query, f.response_us)


@dataclass(frozen=True, slots=True)
class _CsatFacts:
    outcome: Decision
    promise: Promise
    asked_on: date
    rating: int | None
    questions: int


async def _csat_facts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter, clock: FeedbackClock
) -> list[_CsatFacts]:
    f = CsatFacts
    groups = (f.outcome, f.completed_on, f.sent_on, f.due_on, f.asked_on, f.rating)
    query = (
        _facts_query(f, principal, filters, *groups, func.count())
        .where(*_days(f.asked_on, filters))
        .group_by(*groups)
    )
    return [
        _CsatFacts(
            Decision(outcome),
            _promise(clock, completed_on, sent_on, due_on),
            asked_on,
            None if rating is None else int(rating),
            int(count),
        )
        for outcome, completed_on, sent_on, due_on, asked_on, rating, count in (
            await session.execute(query)
        ).all()
    ]


def _csat_figures(key: str, facts: Sequence[_CsatFacts]) -> CsatFigures:
    asked = sum(f.questions for f in facts)
    distribution = dict.fromkeys(CSAT_SCALE, 0)
    for fact in facts:
        if fact.rating is not None:
            distribution[fact.rating] += fact.questions
    rated = sum(distribution.values())
    total = sum(rating * count for rating, count in distribution.items())
    return CsatFigures(
        key=key,
        asked=asked,
        rated=rated,
        response_rate=_rate(rated, asked),
        mean=total / rated if rated else None,
        distribution=distribution,
    )


PARALLEL_QUERIES = 3  # connections one report reads with at once, on PostgreSQL


async def _read_all(
    session: AsyncSession, *reads: Callable[[AsyncSession], Awaitable[Any]]
) -> list[Any]:
    """Independent read queries: on PostgreSQL a few at a time, each on its own pooled
    connection, so the server's cores share a report (the figures then come from snapshots
    milliseconds apart); otherwise one after another on `session` (SQLite, or a session
    bound to one connection)."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        return [await read(session) for read in reads]
    gate = asyncio.Semaphore(PARALLEL_QUERIES)

    async def run(read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with gate, AsyncSession(bind=engine) as own:
            return await read(own)

    return list(await asyncio.gather(*(run(read) for read in reads)))


async def figures(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
    now: datetime,
) -> Figures:
    """Every figure, aggregated in the database; `records` lists the rows behind each."""
    clock = FeedbackClock(calendar, promise_working_days, now)
    by_status = dict.fromkeys(Timeliness, 0)
    feedback_days: dict[float, int] = defaultdict(int)
    weekly: dict[date, dict[str, Any]] = {
        monday: {"status": dict.fromkeys(Timeliness, 0), "days": defaultdict(int)}
        for monday in filters.weeks()
    }
    (
        feedback,
        breaches,
        latencies,
        (funnel, applied),
        replies,
        conversations,
        (handoffs_by_week, response_hours),
        csat,
        delivery,
    ) = await _read_all(
        session,
        lambda s: _feedback_facts(s, principal, filters),
        lambda s: s.scalar(
            _message_scope_query(principal, filters, func.count()).where(*_breach_conditions(now))
        ),
        lambda s: _approval_latencies(s, principal, filters),
        lambda s: _funnel_counts(s, principal, filters),
        lambda s: _reply_counts(s, principal, filters),
        lambda s: _conversation_counts(s, principal, filters),
        lambda s: _handoff_counts(s, principal, filters),
        lambda s: _csat_facts(s, principal, filters, clock),
        lambda s: _delivery_counts(s, principal, filters),
    )
    for fact in feedback:
        _, timeliness, working_days = clock.classify(
            fact.completed_on, fact.sent_on, fact.stated_due_on
        )
        by_status[timeliness] += fact.interviews
        week = weekly[fact.completed_on - timedelta(days=fact.completed_on.weekday())]
        week["status"][timeliness] += fact.interviews
        if working_days is not None:
            feedback_days[float(working_days)] += fact.interviews
            week["days"][float(working_days)] += fact.interviews

    csat_by_week: dict[date, list[_CsatFacts]] = defaultdict(list)
    for question in csat:
        csat_by_week[_monday(question.asked_on)].append(question)

    completed = sum(by_status.values())
    weeks = []
    for monday, week in weekly.items():
        status = week["status"]
        week_completed = sum(status.values())
        sent, replied = replies.get(monday, (0, 0))
        started, contained = conversations.get(monday, (0, 0))
        week_csat = _csat_figures("week", csat_by_week.get(monday, []))
        weeks.append(
            WeekFigures(
                week=monday,
                completed=week_completed,
                in_time=status[Timeliness.IN_TIME],
                late=status[Timeliness.LATE],
                pending=status[Timeliness.PENDING],
                timeliness_rate=_timeliness_rate(status),
                median_working_days=_weighted_percentile(week["days"], 0.5),
                applied=applied.get(monday, 0),
                results_sent=sent,
                replied=replied,
                reply_rate=_rate(replied, sent),
                conversations_started=started,
                contained=contained,
                containment_rate=_rate(contained, started),
                handoffs=handoffs_by_week.get(monday, 0),
                csat_asked=week_csat.asked,
                csat_rated=week_csat.rated,
                csat_mean=week_csat.mean,
            )
        )
    results_sent = sum(sent for sent, _ in replies.values())
    results_replied = sum(replied for _, replied in replies.values())
    started = sum(n for n, _ in conversations.values())
    contained = sum(n for _, n in conversations.values())
    return Figures(
        interviews_completed=completed,
        notified_in_time=by_status[Timeliness.IN_TIME],
        notified_late_or_missed=by_status[Timeliness.LATE],
        pending_within_promise=by_status[Timeliness.PENDING],
        timeliness_rate=_timeliness_rate(by_status),
        time_to_feedback_median=_weighted_percentile(feedback_days, 0.5),
        time_to_feedback_p90=_weighted_percentile(feedback_days, 0.9),
        breaches_open=int(breaches or 0),
        approvals=latencies.count,
        approval_latency_median_hours=latencies.median,
        approval_latency_p90_hours=latencies.p90,
        delivery=delivery,
        funnel=funnel,
        results_sent=results_sent,
        results_replied=results_replied,
        reply_rate=_rate(results_replied, results_sent),
        conversations_started=started,
        conversations_contained=contained,
        containment_rate=_rate(contained, started),
        handoffs=sum(handoffs_by_week.values()),
        handoffs_answered=response_hours.count,
        hr_first_response_median_hours=response_hours.median,
        hr_first_response_p90_hours=response_hours.p90,
        csat=_csat_figures("all", csat),
        csat_by_outcome=[
            _csat_figures(outcome.value, [f for f in csat if f.outcome is outcome])
            for outcome in Decision
        ],
        csat_by_promise=[
            _csat_figures(promise.value, [f for f in csat if f.promise is promise])
            for promise in Promise
        ],
        weeks=weeks,
    )


async def report(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
    compare_teams: bool = False,
    now: datetime | None = None,
) -> KpiReport:
    """The figures for the filters and, with `compare_teams`, the same figures per team
    (the filtered teams, or every team the principal can see)."""
    check_filter(filters, principal)
    now = now or utcnow()
    overall = await figures(
        session, principal, filters, calendar, promise_working_days=promise_working_days, now=now
    )
    teams: list[TeamFigures] = []
    if compare_teams:
        for team in await visible_teams(session, principal, filters.team_ids):
            teams.append(
                TeamFigures(
                    team_id=team.id,
                    team_name=team.name,
                    figures=await figures(
                        session,
                        principal,
                        filters.for_team(team.id),
                        calendar,
                        promise_working_days=promise_working_days,
                        now=now,
                    ),
                )
            )
    return KpiReport(
        filters=filters,
        generated_at=now,
        promise_working_days=promise_working_days,
        figures=overall,
        teams=teams,
    )


async def visible_teams(
    session: AsyncSession, principal: HRPrincipal, only: Sequence[int] = ()
) -> list[Team]:
    query = select(Team).order_by(Team.name, Team.id)
    if not principal.is_admin:
        query = query.where(Team.id.in_(principal.team_ids or {-1}))
    if only:
        query = query.where(Team.id.in_(only))
    return list((await session.scalars(query)).all())
