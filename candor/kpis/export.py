"""The KPI report as CSV: one section per table, so a spreadsheet opens it as is."""

from __future__ import annotations

import csv
import io

from candor.kpis.service import Figures, KpiReport


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
            ]
        )
    return out.getvalue()
