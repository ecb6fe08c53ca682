"""The KPI report as CSV: one section per table, so a spreadsheet opens it as is; exporting
it is audited, since an export carries candidates' data out of the system."""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.auth.principals import HRPrincipal
from candor.kpis import figures as kpi_figures
from candor.kpis.figures import Figures, KpiReport
from candor.kpis.filters import KpiFilter
from candor.sla.calendar import WorkingCalendar


async def export_report(
    session: AsyncSession,
    principal: HRPrincipal,
    filters: KpiFilter,
    calendar: WorkingCalendar,
    *,
    promise_working_days: int,
) -> str:
    """The report with every visible team compared, as CSV; the export is audited in the
    caller's transaction."""
    report = await kpi_figures.report(
        session,
        principal,
        filters,
        calendar,
        promise_working_days=promise_working_days,
        compare_teams=True,
    )
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.KPI_EXPORTED,
        object_type="kpi_report",
        object_id=f"{filters.start}..{filters.end}",
        team_id=filters.team_ids[0] if len(filters.team_ids) == 1 else None,
        details={
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "team_ids": list(filters.team_ids),
            "recruiter_id": filters.recruiter_id,
            "job_id": filters.job_id,
        },
    )
    return report_csv(report)


def _number(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _summary_rows(scope: str, figures: Figures) -> list[list[str]]:
    rows = [
        [scope, "interviews_completed", _number(figures.interviews_completed)],
        [scope, "notified_in_time", _number(figures.notified_in_time)],
        [scope, "notified_late_or_missed", _number(figures.notified_late_or_missed)],
        [scope, "pending_within_promise", _number(figures.pending_within_promise)],
        [scope, "feedback_timeliness_rate", _number(figures.timeliness_rate)],
        [scope, "time_to_feedback_median_working_days", _number(figures.time_to_feedback_median)],
        [scope, "time_to_feedback_p90_working_days", _number(figures.time_to_feedback_p90)],
        [scope, "sla_breaches_open", _number(figures.breaches_open)],
        [scope, "drafts_needing_attention", _number(figures.drafts_needing_attention)],
        [scope, "hr_decisions", _number(figures.approvals)],
        [scope, "hr_approval_latency_median_hours", _number(figures.approval_latency_median_hours)],
        [scope, "hr_approval_latency_p90_hours", _number(figures.approval_latency_p90_hours)],
    ]
    for channel in figures.delivery:
        rows.append(
            [scope, f"delivery_success_rate.{channel.channel.value}", _number(channel.success_rate)]
        )
        rows.append(
            [scope, f"deliveries_finished.{channel.channel.value}", _number(channel.finished)]
        )
    for step, count in figures.funnel.items():
        rows.append([scope, f"funnel.{step}", _number(count)])
    rows += [
        [scope, "results_sent", _number(figures.results_sent)],
        [scope, "results_replied", _number(figures.results_replied)],
        [scope, "candidate_reply_rate", _number(figures.reply_rate)],
        [scope, "conversations_started", _number(figures.conversations_started)],
        [scope, "conversations_contained", _number(figures.conversations_contained)],
        [scope, "bot_containment_rate", _number(figures.containment_rate)],
        [scope, "handoffs", _number(figures.handoffs)],
        [scope, "handoffs_answered", _number(figures.handoffs_answered)],
        [
            scope,
            "hr_first_response_median_hours",
            _number(figures.hr_first_response_median_hours),
        ],
        [scope, "hr_first_response_p90_hours", _number(figures.hr_first_response_p90_hours)],
    ]
    booking = figures.scheduling
    rows += [
        [scope, "scheduling.invitations", _number(booking.invitations)],
        [scope, "scheduling.booked", _number(booking.booked)],
        [
            scope,
            "scheduling.time_to_booking_median_hours",
            _number(booking.time_to_booking_median_hours),
        ],
        [
            scope,
            "scheduling.time_to_booking_p90_hours",
            _number(booking.time_to_booking_p90_hours),
        ],
        [scope, "scheduling.booked_by_candidate", _number(booking.booked_by_candidate)],
        [scope, "scheduling.self_service_share", _number(booking.self_service_share)],
        [scope, "scheduling.reschedules", _number(booking.reschedules)],
        [scope, "scheduling.reschedules_by_candidate", _number(booking.reschedules_by_candidate)],
        [scope, "scheduling.attendance_recorded", _number(booking.attendance_recorded)],
        [scope, "scheduling.no_shows", _number(booking.no_shows)],
        [scope, "scheduling.no_show_rate", _number(booking.no_show_rate)],
    ]
    for csat in (figures.csat, *figures.csat_by_outcome, *figures.csat_by_promise):
        prefix = "csat" if csat is figures.csat else f"csat.{csat.key}"
        rows += [
            [scope, f"{prefix}.asked", _number(csat.asked)],
            [scope, f"{prefix}.rated", _number(csat.rated)],
            [scope, f"{prefix}.response_rate", _number(csat.response_rate)],
            [scope, f"{prefix}.mean", _number(csat.mean)],
        ]
        if csat is figures.csat:
            rows += [
                [scope, f"csat.rating_{rating}", _number(count)]
                for rating, count in csat.distribution.items()
            ]
    return rows


def report_csv(report: KpiReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    f = report.filters
    writer.writerow(
        [
            "# Candor KPIs",
            f"from {f.start}",
            f"to {f.end}",
            f"generated {report.generated_at.isoformat()}",
        ]
    )
    writer.writerow(["scope", "metric", "value"])
    writer.writerows(_summary_rows("all", report.figures))
    for team in report.teams:
        writer.writerows(_summary_rows(f"team:{team.team_id}", team.figures))
    writer.writerow([])
    writer.writerow(
        [
            "week",
            "interviews_completed",
            "in_time",
            "late",
            "pending",
            "timeliness_rate",
            "median_working_days",
            "applied",
            "results_sent",
            "replied",
            "reply_rate",
            "conversations_started",
            "contained",
            "containment_rate",
            "handoffs",
            "csat_asked",
            "csat_rated",
            "csat_mean",
        ]
    )
    for week in report.figures.weeks:
        writer.writerow(
            [
                week.week.isoformat(),
                week.completed,
                week.in_time,
                week.late,
                week.pending,
                _number(week.timeliness_rate),
                _number(week.median_working_days),
                week.applied,
                week.results_sent,
                week.replied,
                _number(week.reply_rate),
                week.conversations_started,
                week.contained,
                _number(week.containment_rate),
                week.handoffs,
                week.csat_asked,
                week.csat_rated,
                _number(week.csat_mean),
            ]
        )
    return out.getvalue()
