"""The response KPIs' figures, aggregated in SQL from the KPI facts.

The facts (`candor.models.kpis`: one narrow row per record, kept by the database's
triggers, defined by views in migration 0009) make each figure one `GROUP BY` over a range
of days; `candor.kpis.records` lists the rows behind each figure from the base tables, and
the tests check that both agree. Definitions: docs/kpis.md.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from candor.auth.principals import HRPrincipal
from candor.clock import utcnow
from candor.kpis.filters import (
    Columns,
    KpiFilter,
    check_filter,
    jobs_in_scope,
    monday_of,
    teams_in_view,
)
from candor.kpis.promise import FeedbackClock, Promise, Timeliness
from candor.kpis.records import (
    CSAT_SCALE,
    DELIVERY_FINISHED,
    FUNNEL_STEPS,
    NEXT_ROUND_STAGES,
    OFFER_STAGES,
    breach_conditions,
    messages_in_scope,
    needs_attention_conditions,
)
from candor.kpis.scheduling import SchedulingFigures, scheduling_figures
from candor.models.enums import Channel, Decision
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
from candor.models.outreach import OutboxState, OutreachMessage
from candor.sla.calendar import WorkingCalendar

PARALLEL_QUERIES = 3  # connections one report reads with at once, on PostgreSQL

T = TypeVar("T")


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
    drafts_needing_attention: int
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
    scheduling: SchedulingFigures
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


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _timeliness_rate(by_status: dict[Timeliness, int]) -> float | None:
    """In time out of those decided either way: a pending interview is not late yet."""
    decided = sum(by_status.values()) - by_status[Timeliness.PENDING]
    return _rate(by_status[Timeliness.IN_TIME], decided)


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


# --- Reading the facts -------------------------------------------------------------------


def _facts_in_scope(
    query: Select[*Columns],
    job_id: InstrumentedAttribute[int],
    principal: HRPrincipal,
    filters: KpiFilter,
) -> Select[*Columns]:
    """`query`, over a KPI facts table whose job is `job_id`, narrowed to the scope: its
    jobs are looked up once (a few hundred rows), never joined row by row."""
    jobs = jobs_in_scope(principal, filters)
    return query if jobs is None else query.where(job_id.in_(jobs))


def _days(column: InstrumentedAttribute[date], filters: KpiFilter) -> list[ColumnElement[bool]]:
    """A facts table's local day within the range (both ends included)."""
    return [column >= filters.start, column <= filters.end]


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
    f = InterviewFacts
    query = select(f.completed_on, f.sent_on, f.due_on, func.count()).select_from(f)
    query = (
        _facts_in_scope(query, f.job_id, principal, filters)
        .where(*_days(f.completed_on, filters))
        .group_by(f.completed_on, f.sent_on, f.due_on)
    )
    rows = (await session.execute(query)).all()
    return [_FeedbackFacts(c, s, d, int(n)) for c, s, d, n in rows]


class _FunnelCounts(NamedTuple):
    steps: dict[str, int]  # applications that reached each step
    applied_by_week: dict[date, int]


async def _funnel_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> _FunnelCounts:
    f = ApplicationFacts

    def count_if(
        condition: ColumnElement[bool] | InstrumentedAttribute[bool],
    ) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = select(
        f.applied_on,
        func.count(),
        count_if(f.ai_interview_done),
        count_if(f.result_sent),
        count_if(f.stage.in_([s.value for s in NEXT_ROUND_STAGES])),
        count_if(f.stage.in_([s.value for s in OFFER_STAGES])),
    ).select_from(f)
    query = (
        _facts_in_scope(query, f.job_id, principal, filters)
        .where(*_days(f.applied_on, filters))
        .group_by(f.applied_on)
    )
    totals = dict.fromkeys(FUNNEL_STEPS, 0)
    applied: dict[date, int] = defaultdict(int)
    for day, *counts in (await session.execute(query)).all():
        applied[monday_of(day)] += int(counts[0])
        for step, count in zip(FUNNEL_STEPS, counts, strict=True):
            totals[step] += int(count or 0)
    return _FunnelCounts(totals, applied)


async def _delivery_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> list[ChannelFigures]:
    f = DeliveryFacts
    query = select(f.channel, f.state, func.count()).select_from(f)
    query = (
        _facts_in_scope(query, f.job_id, principal, filters)
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


class _WeekCount(NamedTuple):
    total: int = 0
    counted: int = 0  # those whose flag said so


async def _reply_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> dict[date, _WeekCount]:
    """Results sent, and replied to, per week of sending."""
    f = ReplyFacts
    return await _weekly_counts(session, principal, filters, f.job_id, f.sent_on, f.replied)


async def _conversation_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> dict[date, _WeekCount]:
    """Conversations started, and contained, per week of start."""
    f = ConversationFacts
    return await _weekly_counts(
        session, principal, filters, f.job_id, f.started_on, f.escalated, counted_when=False
    )


async def _weekly_counts(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    job_id: InstrumentedAttribute[int],
    day: InstrumentedAttribute[date],
    flag: InstrumentedAttribute[bool],
    *,
    counted_when: bool = True,
) -> dict[date, _WeekCount]:
    """Facts, and facts whose `flag` is `counted_when`, per week of `day`."""
    query = select(day, flag, func.count()).select_from(day.class_)
    query = (
        _facts_in_scope(query, job_id, principal, filters)
        .where(*_days(day, filters))
        .group_by(day, flag)
    )
    weeks: dict[date, _WeekCount] = defaultdict(_WeekCount)
    for on, flagged, count in (await session.execute(query)).all():
        week = weeks[monday_of(on)]
        hit = int(count) if bool(flagged) is counted_when else 0
        weeks[monday_of(on)] = _WeekCount(week.total + int(count), week.counted + hit)
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


async def _durations(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    micros: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
) -> _Durations:
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
        assert value is not None  # excluded above
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
    query = _facts_in_scope(select(f.latency_us).select_from(f), f.job_id, principal, filters)
    return await _durations(session, query.where(*_days(f.decided_on, filters)), f.latency_us)


class _HandoffCounts(NamedTuple):
    opened_by_week: dict[date, int]
    first_hr_response: _Durations  # the first HR replies' delays, in hours


async def _handoff_counts(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> _HandoffCounts:
    f = HandoffFacts
    query = _facts_in_scope(select(f.opened_on).select_from(f), f.job_id, principal, filters)
    query = query.where(*_days(f.opened_on, filters))
    weeks: dict[date, int] = defaultdict(int)
    for day, count in (
        await session.execute(
            query.with_only_columns(f.opened_on, func.count()).group_by(f.opened_on)
        )
    ).all():
        weeks[monday_of(day)] += int(count)
    return _HandoffCounts(weeks, await _durations(session, query, f.response_us))


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
    query = select(
        f.outcome, f.completed_on, f.sent_on, f.due_on, f.asked_on, f.rating, func.count()
    ).select_from(f)
    query = (
        _facts_in_scope(query, f.job_id, principal, filters)
        .where(*_days(f.asked_on, filters))
        .group_by(*groups)
    )
    return [
        _CsatFacts(
            Decision(outcome),
            clock.promise(completed_on, sent_on, due_on),
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


async def _open_breaches(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter, now: datetime
) -> int:
    query = messages_in_scope(
        select(func.count()).select_from(OutreachMessage), principal, filters
    ).where(*breach_conditions(now))
    return int(await session.scalar(query) or 0)


async def _drafts_needing_attention(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> int:
    query = messages_in_scope(
        select(func.count()).select_from(OutreachMessage), principal, filters
    ).where(*needs_attention_conditions())
    return int(await session.scalar(query) or 0)


# --- Reading in parallel -----------------------------------------------------------------


class _Read(Generic[T]):
    """One independent read of `ParallelReads`; its `value` once they have run."""

    def __init__(self, read: Callable[[AsyncSession], Awaitable[T]]) -> None:
        self._read = read
        self._values: list[T] = []  # its one value, once read (T itself may be optional)

    async def run(self, session: AsyncSession) -> None:
        self._values = [await self._read(session)]

    @property
    def value(self) -> T:
        if not self._values:
            raise RuntimeError("read before ParallelReads.run()")
        return self._values[0]


class ParallelReads:
    """Independent read queries: on PostgreSQL a few at a time, each on its own pooled
    connection, so the server's cores share a report (the figures then come from snapshots
    milliseconds apart); otherwise one after another on `session` (SQLite, or a session
    bound to one connection), in the order they were added."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._reads: list[_Read[Any]] = []

    def add(self, read: Callable[[AsyncSession], Awaitable[T]]) -> _Read[T]:
        pending = _Read(read)
        self._reads.append(pending)
        return pending

    async def run(self) -> None:
        engine = self._session.bind
        if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
            for read in self._reads:
                await read.run(self._session)
            return
        gate = asyncio.Semaphore(PARALLEL_QUERIES)

        async def run(read: _Read[Any]) -> None:
            async with gate, AsyncSession(bind=engine) as own:
                await read.run(own)

        await asyncio.gather(*(run(read) for read in self._reads))


# --- The report --------------------------------------------------------------------------


@dataclass(slots=True)
class _FeedbackTally:
    """Interviews by timeliness, and by working days to feedback, for a week or overall."""

    by_status: dict[Timeliness, int] = field(default_factory=lambda: dict.fromkeys(Timeliness, 0))
    working_days: dict[float, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def completed(self) -> int:
        return sum(self.by_status.values())

    def add(self, fact: _FeedbackFacts, timeliness: Timeliness, working_days: int | None) -> None:
        self.by_status[timeliness] += fact.interviews
        if working_days is not None:
            self.working_days[float(working_days)] += fact.interviews


async def figures(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
    now: datetime,
) -> Figures:
    """Every figure, aggregated in the database; `candor.kpis.records` lists the rows
    behind each."""
    clock = FeedbackClock(calendar, promise_working_days, now)
    reads = ParallelReads(session)
    feedback_read = reads.add(lambda s: _feedback_facts(s, principal, filters))
    breaches_read = reads.add(lambda s: _open_breaches(s, principal, filters, now))
    attention_read = reads.add(lambda s: _drafts_needing_attention(s, principal, filters))
    latencies_read = reads.add(lambda s: _approval_latencies(s, principal, filters))
    funnel_read = reads.add(lambda s: _funnel_counts(s, principal, filters))
    replies_read = reads.add(lambda s: _reply_counts(s, principal, filters))
    conversations_read = reads.add(lambda s: _conversation_counts(s, principal, filters))
    handoffs_read = reads.add(lambda s: _handoff_counts(s, principal, filters))
    csat_read = reads.add(lambda s: _csat_facts(s, principal, filters, clock))
    delivery_read = reads.add(lambda s: _delivery_counts(s, principal, filters))
    scheduling_read = reads.add(lambda s: scheduling_figures(s, principal, filters))
    await reads.run()
    latencies, funnel, handoffs = latencies_read.value, funnel_read.value, handoffs_read.value
    replies, conversations, csat = replies_read.value, conversations_read.value, csat_read.value

    overall = _FeedbackTally()
    weekly = {monday: _FeedbackTally() for monday in filters.weeks()}
    for fact in feedback_read.value:
        feedback = clock.classify(fact.completed_on, fact.sent_on, fact.stated_due_on)
        overall.add(fact, feedback.timeliness, feedback.working_days)
        weekly[monday_of(fact.completed_on)].add(fact, feedback.timeliness, feedback.working_days)

    csat_by_week: dict[date, list[_CsatFacts]] = defaultdict(list)
    for question in csat:
        csat_by_week[monday_of(question.asked_on)].append(question)

    weeks = []
    for monday, week in weekly.items():
        status = week.by_status
        week_replies = replies.get(monday, _WeekCount())
        week_conversations = conversations.get(monday, _WeekCount())
        week_csat = _csat_figures("week", csat_by_week.get(monday, []))
        weeks.append(
            WeekFigures(
                week=monday,
                completed=week.completed,
                in_time=status[Timeliness.IN_TIME],
                late=status[Timeliness.LATE],
                pending=status[Timeliness.PENDING],
                timeliness_rate=_timeliness_rate(status),
                median_working_days=_weighted_percentile(week.working_days, 0.5),
                applied=funnel.applied_by_week.get(monday, 0),
                results_sent=week_replies.total,
                replied=week_replies.counted,
                reply_rate=_rate(week_replies.counted, week_replies.total),
                conversations_started=week_conversations.total,
                contained=week_conversations.counted,
                containment_rate=_rate(week_conversations.counted, week_conversations.total),
                handoffs=handoffs.opened_by_week.get(monday, 0),
                csat_asked=week_csat.asked,
                csat_rated=week_csat.rated,
                csat_mean=week_csat.mean,
            )
        )
    results_sent = sum(week.total for week in replies.values())
    results_replied = sum(week.counted for week in replies.values())
    started = sum(week.total for week in conversations.values())
    contained = sum(week.counted for week in conversations.values())
    by_status = overall.by_status
    return Figures(
        interviews_completed=overall.completed,
        notified_in_time=by_status[Timeliness.IN_TIME],
        notified_late_or_missed=by_status[Timeliness.LATE],
        pending_within_promise=by_status[Timeliness.PENDING],
        timeliness_rate=_timeliness_rate(by_status),
        time_to_feedback_median=_weighted_percentile(overall.working_days, 0.5),
        time_to_feedback_p90=_weighted_percentile(overall.working_days, 0.9),
        breaches_open=breaches_read.value,
        drafts_needing_attention=attention_read.value,
        approvals=latencies.count,
        approval_latency_median_hours=latencies.median,
        approval_latency_p90_hours=latencies.p90,
        delivery=delivery_read.value,
        funnel=funnel.steps,
        results_sent=results_sent,
        results_replied=results_replied,
        reply_rate=_rate(results_replied, results_sent),
        conversations_started=started,
        conversations_contained=contained,
        containment_rate=_rate(contained, started),
        handoffs=sum(handoffs.opened_by_week.values()),
        handoffs_answered=handoffs.first_hr_response.count,
        hr_first_response_median_hours=handoffs.first_hr_response.median,
        hr_first_response_p90_hours=handoffs.first_hr_response.p90,
        csat=_csat_figures("all", csat),
        csat_by_outcome=[
            _csat_figures(outcome.value, [f for f in csat if f.outcome is outcome])
            for outcome in Decision
        ],
        csat_by_promise=[
            _csat_figures(promise.value, [f for f in csat if f.promise is promise])
            for promise in Promise
        ],
        scheduling=scheduling_read.value,
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
    await check_filter(session, filters, principal)
    now = now or utcnow()
    overall = await figures(
        session, principal, filters, calendar, promise_working_days=promise_working_days, now=now
    )
    teams: list[TeamFigures] = []
    if compare_teams:
        for team in await teams_in_view(session, principal, filters.team_ids):
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
