"""The records behind each KPI figure, as rows a person can read and follow.

Each metric is one entry of `REGISTRY`: its title and columns, the records function that
lists it (`candor.kpis.records`), which parts of a `Selection` slice it, and how a record
becomes a row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.kpis import records as kpi_records
from candor.kpis.filters import KpiFilter, KpiFilterError, check_filter, week_of
from candor.kpis.promise import Promise, Timeliness
from candor.kpis.records import (
    CSAT_SCALE,
    FUNNEL_STEPS,
    ConversationRecord,
    CsatRecord,
    DeliveryRecord,
    FunnelRecord,
    HandoffRecord,
    InterviewRecord,
    MessageRecord,
    ReplyRecord,
)
from candor.models.enums import Channel, Decision
from candor.sla.calendar import WorkingCalendar

R = TypeVar("R")


class Metric(StrEnum):
    INTERVIEWS = "interviews"
    TIME_TO_FEEDBACK = "time_to_feedback"
    BREACHES = "breaches"
    NEEDS_ATTENTION = "needs_attention"
    APPROVALS = "approvals"
    DELIVERIES = "deliveries"
    FUNNEL = "funnel"
    REPLIES = "replies"
    CONVERSATIONS = "conversations"
    HANDOFFS = "handoffs"
    HR_FIRST_RESPONSE = "hr_first_response"
    CSAT = "csat"


METRICS: tuple[str, ...] = tuple(Metric)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which slice of a metric's records: a week, a timeliness, a channel, a funnel step,
    a rating, an outcome, a promise. `succeeded` is the metric's own yes or no: delivered,
    replied, contained, answered (hand-offs) or rated (CSAT). `metric` stays text: an
    unknown one is refused by `records` with the list of known ones."""

    metric: str
    week: date | None = None
    timeliness: Timeliness | None = None
    channel: Channel | None = None
    succeeded: bool | None = None
    step: str | None = None
    rating: int | None = None
    outcome: Decision | None = None
    promise: Promise | None = None

    @property
    def funnel_step(self) -> str:
        return self.step or "applied"


@dataclass(frozen=True, slots=True)
class Row:
    cells: list[str]
    message_id: int | None  # the console links a row to its message when it has one


@dataclass(frozen=True, slots=True)
class Records:
    title: str
    columns: list[str]
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a metric's records are read from."""

    session: AsyncSession
    principal: HRPrincipal
    filters: KpiFilter
    calendar: WorkingCalendar
    promise_working_days: int
    now: datetime


def _always(record: object, selection: Selection) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class MetricSpec(Generic[R]):
    """One metric's drill-down."""

    title: str | Callable[[Selection], str]
    columns: tuple[str, ...]
    load: Callable[[Source], Awaitable[Sequence[R]]]
    render: Callable[[R], Row]
    week_moment: Callable[[R], datetime] | None = None  # sliced by week of this; else not
    succeeded: Callable[[R], bool] | None = None  # the metric's yes or no; else not sliced
    keep: Callable[[R, Selection], bool] = _always  # the metric's own slices
    order: Callable[[R], Any] | None = None  # listed in this order rather than the records'
    check: Callable[[Selection], None] | None = None  # refuses a selection before reading

    def selected(self, record: R, selection: Selection) -> bool:
        week, succeeded = self.week_moment, self.succeeded
        return (
            (selection.week is None or week is None or week_of(week(record)) == selection.week)
            and (
                selection.succeeded is None
                or succeeded is None
                or succeeded(record) is selection.succeeded
            )
            and self.keep(record, selection)
        )

    async def records(self, source: Source, selection: Selection) -> Records:
        if self.check is not None:
            self.check(selection)
        chosen = [r for r in await self.load(source) if self.selected(r, selection)]
        if self.order is not None:
            chosen.sort(key=self.order)
        return Records(
            title=self.title if isinstance(self.title, str) else self.title(selection),
            columns=list(self.columns),
            rows=[self.render(r) for r in chosen],
        )


def _scoped(
    read: Callable[[AsyncSession, HRPrincipal, KpiFilter], Awaitable[list[R]]],
) -> Callable[[Source], Awaitable[list[R]]]:
    """A records function that needs only the scope, as a metric's `load`."""

    async def load(source: Source) -> list[R]:
        return await read(source.session, source.principal, source.filters)

    return load


def _t(moment: datetime | None) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- Interviews --------------------------------------------------------------------------


async def _interviews(source: Source) -> list[InterviewRecord]:
    return await kpi_records.interview_records(
        source.session,
        source.principal,
        source.filters,
        source.calendar,
        promise_working_days=source.promise_working_days,
        now=source.now,
    )


def _interview_row(r: InterviewRecord) -> Row:
    return Row(
        [
            r.application_code,
            r.candidate_name,
            _t(r.completed_at),
            r.due_on.isoformat(),
            _t(r.sent_at),
            "" if r.working_days_to_feedback is None else str(r.working_days_to_feedback),
            r.timeliness.value,
        ],
        r.message_id,
    )


def _of_timeliness(r: InterviewRecord, selection: Selection) -> bool:
    return selection.timeliness is None or r.timeliness is selection.timeliness


def _sent_of_timeliness(r: InterviewRecord, selection: Selection) -> bool:
    return r.working_days_to_feedback is not None and _of_timeliness(r, selection)


INTERVIEW_COLUMNS = (
    "Application",
    "Candidate",
    "Completed",
    "Promised by",
    "Sent",
    "Working days",
    "Status",
)


# --- Result messages ---------------------------------------------------------------------


async def _open_breaches(source: Source) -> list[MessageRecord]:
    return await kpi_records.open_breach_records(
        source.session, source.principal, source.filters, now=source.now
    )


def _message_row(m: MessageRecord) -> Row:
    return Row(
        [
            str(m.message_id),
            m.application_code,
            m.candidate_name,
            m.state.value,
            _t(m.created_at),
            _t(m.due_at),
            m.decided_by or "",
            _t(m.decided_at),
        ],
        m.message_id,
    )


MESSAGE_COLUMNS = (
    "Message",
    "Application",
    "Candidate",
    "State",
    "Drafted",
    "Due",
    "Decided by",
    "Decided",
)


# --- Deliveries and the funnel -----------------------------------------------------------


def _delivery_row(d: DeliveryRecord) -> Row:
    return Row(
        [
            str(d.outbox_id),
            str(d.message_id),
            d.application_code,
            d.channel.value,
            d.state.value,
            _t(d.created_at),
            d.last_error or "",
        ],
        d.message_id,
    )


def _of_channel(d: DeliveryRecord, selection: Selection) -> bool:
    return selection.channel is None or d.channel is selection.channel


def _check_step(selection: Selection) -> None:
    if selection.funnel_step not in FUNNEL_STEPS:
        raise KpiFilterError(f"unknown funnel step {selection.funnel_step!r}")


def _funnel_row(r: FunnelRecord) -> Row:
    return Row(
        [
            r.application_code,
            r.candidate_name,
            _t(r.applied_at),
            r.stage.value,
            _yes(r.ai_interview_completed),
            _yes(r.result_sent),
        ],
        None,
    )


# --- Conversations -----------------------------------------------------------------------


def _reply_row(r: ReplyRecord) -> Row:
    return Row(
        [
            str(r.message_id),
            r.application_code,
            r.candidate_name,
            r.outcome.value,
            _t(r.sent_at),
            _yes(r.replied),
        ],
        r.message_id,
    )


def _conversation_row(c: ConversationRecord) -> Row:
    return Row(
        [
            str(c.conversation_id),
            c.application_code,
            c.candidate_name,
            c.channel.value,
            _t(c.started_at),
            _yes(c.contained),
        ],
        None,
    )


def _handoff_row(h: HandoffRecord) -> Row:
    return Row(
        [
            str(h.handoff_id),
            str(h.conversation_id),
            h.application_code,
            h.candidate_name,
            h.reason,
            _t(h.opened_at),
            _t(h.first_hr_reply_at),
            "" if h.response_hours is None else f"{h.response_hours:.1f}",
            _t(h.closed_at),
        ],
        None,
    )


HANDOFF_COLUMNS = (
    "Hand-off",
    "Conversation",
    "Application",
    "Candidate",
    "Reason",
    "Opened",
    "First HR reply",
    "Hours",
    "Closed",
)


def _check_rating(selection: Selection) -> None:
    if selection.rating is not None and selection.rating not in CSAT_SCALE:
        raise KpiFilterError("a rating is 1 to 5")


async def _csat(source: Source) -> list[CsatRecord]:
    return await kpi_records.csat_records(
        source.session,
        source.principal,
        source.filters,
        source.calendar,
        promise_working_days=source.promise_working_days,
        now=source.now,
    )


def _csat_selected(c: CsatRecord, selection: Selection) -> bool:
    return (
        (selection.rating is None or c.rating == selection.rating)
        and (selection.outcome is None or c.outcome is selection.outcome)
        and (selection.promise is None or c.promise is selection.promise)
    )


def _csat_row(c: CsatRecord) -> Row:
    return Row(
        [
            str(c.message_id),
            c.application_code,
            c.candidate_name,
            c.outcome.value,
            c.promise.value,
            _t(c.asked_at),
            "" if c.rating is None else str(c.rating),
            _t(c.rated_at),
        ],
        c.message_id,
    )


REGISTRY: Mapping[Metric, MetricSpec[Any]] = {
    Metric.INTERVIEWS: MetricSpec(
        title="Interviews completed",
        columns=INTERVIEW_COLUMNS,
        load=_interviews,
        render=_interview_row,
        week_moment=lambda r: r.completed_at,
        keep=_of_timeliness,
    ),
    Metric.TIME_TO_FEEDBACK: MetricSpec(
        title="Time to feedback",
        columns=INTERVIEW_COLUMNS,
        load=_interviews,
        render=_interview_row,
        week_moment=lambda r: r.completed_at,
        keep=_sent_of_timeliness,
        order=lambda r: (r.working_days_to_feedback or 0, r.interview_id),
    ),
    Metric.BREACHES: MetricSpec(
        title="SLA breaches open now",
        columns=MESSAGE_COLUMNS,
        load=_open_breaches,
        render=_message_row,
    ),
    Metric.NEEDS_ATTENTION: MetricSpec(
        title="Drafts needing attention now",
        columns=MESSAGE_COLUMNS,
        load=_scoped(kpi_records.needs_attention_records),
        render=_message_row,
    ),
    Metric.APPROVALS: MetricSpec(
        title="HR decisions",
        columns=MESSAGE_COLUMNS,
        load=_scoped(kpi_records.approval_records),
        render=_message_row,
    ),
    Metric.DELIVERIES: MetricSpec(
        title="Deliveries",
        columns=("Delivery", "Message", "Application", "Channel", "State", "Queued", "Error"),
        load=_scoped(kpi_records.delivery_records),
        render=_delivery_row,
        succeeded=lambda d: d.succeeded,
        keep=_of_channel,
    ),
    Metric.FUNNEL: MetricSpec(
        title=lambda selection: f"Funnel: {selection.funnel_step.replace('_', ' ')}",
        columns=("Application", "Candidate", "Applied", "Stage", "AI interview", "Result sent"),
        load=_scoped(kpi_records.funnel_records),
        render=_funnel_row,
        week_moment=lambda r: r.applied_at,
        keep=lambda r, selection: r.reached(selection.funnel_step),
        check=_check_step,
    ),
    Metric.REPLIES: MetricSpec(
        title="Result messages sent, and replies",
        columns=("Message", "Application", "Candidate", "Outcome", "Sent", "Replied"),
        load=_scoped(kpi_records.reply_records),
        render=_reply_row,
        week_moment=lambda r: r.sent_at,
        succeeded=lambda r: r.replied,
        keep=lambda r, selection: selection.outcome is None or r.outcome is selection.outcome,
    ),
    Metric.CONVERSATIONS: MetricSpec(
        title="Conversations started",
        columns=("Conversation", "Application", "Candidate", "Channel", "Started", "Bot only"),
        load=_scoped(kpi_records.conversation_records),
        render=_conversation_row,
        week_moment=lambda c: c.started_at,
        succeeded=lambda c: c.contained,
    ),
    Metric.HANDOFFS: MetricSpec(
        title="Hand-offs",
        columns=HANDOFF_COLUMNS,
        load=_scoped(kpi_records.handoff_records),
        render=_handoff_row,
        week_moment=lambda h: h.opened_at,
        succeeded=lambda h: h.answered,
    ),
    Metric.HR_FIRST_RESPONSE: MetricSpec(
        title="HR first response to hand-offs",
        columns=HANDOFF_COLUMNS,
        load=_scoped(kpi_records.handoff_records),
        render=_handoff_row,
        week_moment=lambda h: h.opened_at,
        succeeded=lambda h: h.answered,
        keep=lambda h, selection: h.answered,
        order=lambda h: (h.response_hours or 0.0, h.handoff_id),
    ),
    Metric.CSAT: MetricSpec(
        title="Satisfaction questions",
        columns=(
            "Message",
            "Application",
            "Candidate",
            "Outcome",
            "Promise",
            "Asked",
            "Rating",
            "Rated",
        ),
        load=_csat,
        render=_csat_row,
        week_moment=lambda c: c.asked_at,
        succeeded=lambda c: c.rating is not None,
        keep=_csat_selected,
        check=_check_rating,
    ),
}


def metric_spec(metric: str) -> MetricSpec[Any]:
    try:
        return REGISTRY[Metric(metric)]
    except ValueError:
        raise KpiFilterError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}") from None


async def records(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    selection: Selection,
    *,
    promise_working_days: int,
    now: datetime,
) -> Records:
    await check_filter(session, filters, principal)
    spec = metric_spec(selection.metric)
    source = Source(session, principal, filters, calendar, promise_working_days, now)
    return await spec.records(source, selection)
