"""The records behind each KPI figure, as rows a person can read and follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.kpis import service
from candor.kpis.service import FUNNEL_STEPS, KpiFilter, KpiFilterError, Timeliness
from candor.models.enums import Channel
from candor.sla.calendar import WorkingCalendar

METRICS = ("interviews", "time_to_feedback", "breaches", "approvals", "deliveries", "funnel")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which slice of a metric's records: a week, a timeliness, a channel, a funnel step."""

    metric: str
    week: date | None = None
    timeliness: Timeliness | None = None
    channel: Channel | None = None
    succeeded: bool | None = None
    step: str | None = None


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
    raise KpiFilterError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
