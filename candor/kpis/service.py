"""Computing the response KPIs from the records behind them.

Each metric has one set of conditions (`_*_conditions`) used twice: aggregated in the
database for its figure (`figures`), and listed row by row for the drill-down (the
`*_records` functions), so every number can be traced to exactly the rows that make it.
Interviews are grouped by local day in SQL, and the promise's day arithmetic is done once
per distinct day (`FeedbackClock`). Definitions: docs/kpis.md.

Dates are local (Asia/Shanghai): a range is whole local days, weeks start on Monday.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ, utcnow
from candor.kpis.sql import local_date
from candor.models import Application, Candidate, Interview, Job, Team
from candor.models.enums import Channel, InterviewKind, Stage
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


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: Channel
    finished: int
    sent: int
    success_rate: float | None


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


async def _feedback_facts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[_FeedbackFacts]:
    first_sent = (
        select(func.min(OutreachMessage.sent_at))
        .where(OutreachMessage.interview_id == Interview.id)
        .scalar_subquery()
    )
    stated_due = (
        select(func.min(OutreachMessage.due_at))
        .where(OutreachMessage.interview_id == Interview.id)
        .scalar_subquery()
    )
    per_interview = _interview_query(
        principal,
        filters,
        local_date(Interview.completed_at).label("completed_on"),
        local_date(first_sent).label("sent_on"),
        local_date(stated_due).label("due_on"),
    ).subquery()
    days = (per_interview.c.completed_on, per_interview.c.sent_on, per_interview.c.due_on)
    rows = (await session.execute(select(*days, func.count()).group_by(*days))).all()
    return [_FeedbackFacts(c, s, d, int(n)) for c, s, d, n in rows]


async def _funnel_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> tuple[dict[str, int], dict[date, int]]:
    """The funnel's step counts, and applications made per week."""
    mondays = filters.weeks()
    week = case(
        *[
            (
                Application.applied_at
                < datetime.combine(m + timedelta(weeks=1), time.min, BUSINESS_TZ),
                i,
            )
            for i, m in enumerate(mondays)
        ],
        else_=len(mondays) - 1,
    )

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = _funnel_query(
        principal,
        filters,
        week,
        func.count(),
        count_if(_ai_interview_done()),
        count_if(_result_sent()),
        count_if(Application.stage.in_(NEXT_ROUND_STAGES)),
        count_if(Application.stage.in_(OFFER_STAGES)),
    ).group_by(week)
    totals = dict.fromkeys(FUNNEL_STEPS, 0)
    applied: dict[date, int] = {}
    for index, *counts in (await session.execute(query)).all():
        applied[mondays[int(index)]] = int(counts[0])
        for step, count in zip(FUNNEL_STEPS, counts, strict=True):
            totals[step] += int(count or 0)
    return totals, applied


async def _delivery_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ChannelFigures]:
    query = _delivery_query(
        principal, filters, OutboxItem.channel, OutboxItem.state, func.count()
    ).group_by(OutboxItem.channel, OutboxItem.state)
    finished: dict[Channel, int] = defaultdict(int)
    sent: dict[Channel, int] = defaultdict(int)
    for channel, state, count in (await session.execute(query)).all():
        finished[channel] += int(count)
        if state is OutboxState.SENT:
            sent[channel] += int(count)
    return [
        ChannelFigures(
            channel=channel,
            finished=finished[channel],
            sent=sent[channel],
            success_rate=_rate(sent[channel], finished[channel]),
        )
        for channel in sorted(finished, key=lambda c: c.value)
    ]


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
    for fact in await _feedback_facts(session, principal, filters):
        _, timeliness, working_days = clock.classify(
            fact.completed_on, fact.sent_on, fact.stated_due_on
        )
        by_status[timeliness] += fact.interviews
        week = weekly[fact.completed_on - timedelta(days=fact.completed_on.weekday())]
        week["status"][timeliness] += fact.interviews
        if working_days is not None:
            feedback_days[float(working_days)] += fact.interviews
            week["days"][float(working_days)] += fact.interviews

    breaches = await session.scalar(
        _message_scope_query(principal, filters, func.count()).where(*_breach_conditions(now))
    )
    decisions = (
        await session.execute(
            _message_scope_query(
                principal, filters, OutreachMessage.created_at, OutreachMessage.decided_at
            ).where(*_approval_conditions(filters))
        )
    ).all()
    latencies: dict[float, int] = defaultdict(int)
    for created_at, decided_at in decisions:
        latencies[(decided_at - created_at).total_seconds() / 3600] += 1
    funnel, applied = await _funnel_counts(session, principal, filters)

    completed = sum(by_status.values())
    weeks = []
    for monday, week in weekly.items():
        status = week["status"]
        week_completed = sum(status.values())
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
            )
        )
    return Figures(
        interviews_completed=completed,
        notified_in_time=by_status[Timeliness.IN_TIME],
        notified_late_or_missed=by_status[Timeliness.LATE],
        pending_within_promise=by_status[Timeliness.PENDING],
        timeliness_rate=_timeliness_rate(by_status),
        time_to_feedback_median=_weighted_percentile(feedback_days, 0.5),
        time_to_feedback_p90=_weighted_percentile(feedback_days, 0.9),
        breaches_open=int(breaches or 0),
        approvals=len(decisions),
        approval_latency_median_hours=_weighted_percentile(latencies, 0.5),
        approval_latency_p90_hours=_weighted_percentile(latencies, 0.9),
        delivery=await _delivery_counts(session, principal, filters),
        funnel=funnel,
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
