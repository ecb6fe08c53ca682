"""The records behind each KPI figure, as rows a person can read and follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.kpis import service
from candor.kpis.service import FUNNEL_STEPS, KpiFilter, KpiFilterError, Promise, Timeliness
from candor.models.enums import Channel, Decision
from candor.sla.calendar import WorkingCalendar

METRICS = (
    "interviews",
    "time_to_feedback",
    "breaches",
    "approvals",
    "deliveries",
    "funnel",
    "replies",
    "conversations",
    "handoffs",
    "hr_first_response",
    "csat",
)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which slice of a metric's records: a week, a timeliness, a channel, a funnel step,
    a rating, an outcome, a promise. `succeeded` is the metric's own yes or no: delivered,
    replied, contained, answered (hand-offs) or rated (CSAT)."""

    metric: str
    week: date | None = None
    timeliness: Timeliness | None = None
    channel: Channel | None = None
    succeeded: bool | None = None
    step: str | None = None
    rating: int | None = None
    outcome: Decision | None = None
    promise: Promise | None = None


@dataclass(frozen=True, slots=True)
class Row:
    cells: list[str]
    message_id: int | None  # the console links a row to its message when it has one


@dataclass(frozen=True, slots=True)
class Records:
    title: str
    columns: list[str]
    rows: list[Row]


def _t(moment: datetime | None) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


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
    service.check_filter(filters, principal)
    metric = selection.metric
    if metric in ("interviews", "time_to_feedback"):
        interviews = await service.interview_records(
            session,
            principal,
            filters,
            calendar,
            promise_working_days=promise_working_days,
            now=now,
        )
        if selection.week is not None:
            interviews = [
                r for r in interviews if service.week_of(r.completed_at) == selection.week
            ]
        if selection.timeliness is not None:
            interviews = [r for r in interviews if r.timeliness is selection.timeliness]
        if metric == "time_to_feedback":
            interviews = sorted(
                (r for r in interviews if r.working_days_to_feedback is not None),
                key=lambda r: (r.working_days_to_feedback or 0, r.interview_id),
            )
        return Records(
            title="Interviews completed" if metric == "interviews" else "Time to feedback",
            columns=[
                "Application",
                "Candidate",
                "Completed",
                "Promised by",
                "Sent",
                "Working days",
                "Status",
            ],
            rows=[
                Row(
                    [
                        r.application_code,
                        r.candidate_name,
                        _t(r.completed_at),
                        r.due_on.isoformat(),
                        _t(r.sent_at),
                        ""
                        if r.working_days_to_feedback is None
                        else str(r.working_days_to_feedback),
                        r.timeliness.value,
                    ],
                    r.message_id,
                )
                for r in interviews
            ],
        )
    if metric in ("breaches", "approvals"):
        messages = (
            await service.open_breach_records(session, principal, filters, now=now)
            if metric == "breaches"
            else await service.approval_records(session, principal, filters)
        )
        return Records(
            title="SLA breaches open now" if metric == "breaches" else "HR decisions",
            columns=[
                "Message",
                "Application",
                "Candidate",
                "State",
                "Drafted",
                "Due",
                "Decided by",
                "Decided",
            ],
            rows=[
                Row(
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
                for m in messages
            ],
        )
    if metric == "deliveries":
        deliveries = await service.delivery_records(session, principal, filters)
        if selection.channel is not None:
            deliveries = [d for d in deliveries if d.channel is selection.channel]
        if selection.succeeded is not None:
            deliveries = [d for d in deliveries if d.succeeded is selection.succeeded]
        return Records(
            title="Deliveries",
            columns=["Delivery", "Message", "Application", "Channel", "State", "Queued", "Error"],
            rows=[
                Row(
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
                for d in deliveries
            ],
        )
    if metric == "funnel":
        step = selection.step or "applied"
        if step not in FUNNEL_STEPS:
            raise KpiFilterError(f"unknown funnel step {step!r}")
        applications = [
            r for r in await service.funnel_records(session, principal, filters) if r.reached(step)
        ]
        if selection.week is not None:
            applications = [
                r for r in applications if service.week_of(r.applied_at) == selection.week
            ]
        return Records(
            title=f"Funnel: {step.replace('_', ' ')}",
            columns=["Application", "Candidate", "Applied", "Stage", "AI interview", "Result sent"],
            rows=[
                Row(
                    [
                        r.application_code,
                        r.candidate_name,
                        _t(r.applied_at),
                        r.stage.value,
                        "yes" if r.ai_interview_completed else "no",
                        "yes" if r.result_sent else "no",
                    ],
                    None,
                )
                for r in applications
            ],
        )
    if metric in ("replies", "conversations", "handoffs", "hr_first_response", "csat"):
        return await _chat_records(
            session,
            principal,
            filters,
            calendar,
            selection,
            promise_working_days=promise_working_days,
            now=now,
        )
    raise KpiFilterError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


async def _chat_records(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    selection: Selection,
    *,
    promise_working_days: int,
    now: datetime,
) -> Records:
    metric, wanted, week = selection.metric, selection.succeeded, selection.week
    if metric == "replies":
        replies = [
            r
            for r in await service.reply_records(session, principal, filters)
            if (wanted is None or r.replied is wanted)
            and (week is None or service.week_of(r.sent_at) == week)
            and (selection.outcome is None or r.outcome is selection.outcome)
        ]
        return Records(
            title="Result messages sent, and replies",
            columns=["Message", "Application", "Candidate", "Outcome", "Sent", "Replied"],
            rows=[
                Row(
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
                for r in replies
            ],
        )
    if metric == "conversations":
        conversations = [
            c
            for c in await service.conversation_records(session, principal, filters)
            if (wanted is None or c.contained is wanted)
            and (week is None or service.week_of(c.started_at) == week)
        ]
        return Records(
            title="Conversations started",
            columns=[
                "Conversation",
                "Application",
                "Candidate",
                "Channel",
                "Started",
                "Bot only",
            ],
            rows=[
                Row(
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
                for c in conversations
            ],
        )
    if metric in ("handoffs", "hr_first_response"):
        handoffs = [
            h
            for h in await service.handoff_records(session, principal, filters)
            if (wanted is None or h.answered is wanted)
            and (week is None or service.week_of(h.opened_at) == week)
        ]
        if metric == "hr_first_response":
            handoffs = sorted(
                (h for h in handoffs if h.answered),
                key=lambda h: (h.response_hours or 0.0, h.handoff_id),
            )
        return Records(
            title="Hand-offs" if metric == "handoffs" else "HR first response to hand-offs",
            columns=[
                "Hand-off",
                "Conversation",
                "Application",
                "Candidate",
                "Reason",
                "Opened",
                "First HR reply",
                "Hours",
                "Closed",
            ],
            rows=[
                Row(
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
                for h in handoffs
            ],
        )
    if selection.rating is not None and selection.rating not in service.CSAT_SCALE:
        raise KpiFilterError("a rating is 1 to 5")
    answers = [
        c
        for c in await service.csat_records(
            session,
            principal,
            filters,
            calendar,
            promise_working_days=promise_working_days,
            now=now,
        )
        if (wanted is None or (c.rating is not None) is wanted)
        and (week is None or service.week_of(c.asked_at) == week)
        and (selection.rating is None or c.rating == selection.rating)
        and (selection.outcome is None or c.outcome is selection.outcome)
        and (selection.promise is None or c.promise is selection.promise)
    ]
    return Records(
        title="Satisfaction questions",
        columns=[
            "Message",
            "Application",
            "Candidate",
            "Outcome",
            "Promise",
            "Asked",
            "Rating",
            "Rated",
        ],
        rows=[
            Row(
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
            for c in answers
        ],
    )
