"""The KPI dashboard: figures, weekly trends, team comparison, drill-down and CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.charts import (
    BAR_COLOUR,
    LATE_COLOUR,
    PENDING_COLOUR,
    Bar,
    bar_list,
    column_chart,
)
from api.console.deps import ConsoleHTTPError, CurrentConsoleUser
from api.console.i18n import N_, _, ngettext
from api.console.labels import label
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from api.kpi_params import DrilldownQueryDep, KpiFilterDep, RecordsPageDep
from api.routers.kpis import build_report, export_csv, load_records
from candor.errors import CandorError
from candor.kpis.figures import CsatFigures, KpiReport
from candor.kpis.filters import KpiFilter, filter_choices
from candor.kpis.promise import Timeliness
from candor.kpis.records import FUNNEL_STEPS

router = APIRouter(prefix="/console/kpis", include_in_schema=False)


def filter_query(filters: KpiFilter, **extra: str | int | bool | None) -> str:
    """The filters (and a drill-down selection) as a query string."""
    params: list[tuple[str, str]] = [
        ("from", filters.start.isoformat()),
        ("to", filters.end.isoformat()),
    ]
    params += [("team_id", str(t)) for t in filters.team_ids]
    if filters.recruiter_id is not None:
        params.append(("recruiter_id", str(filters.recruiter_id)))
    if filters.job_id is not None:
        params.append(("job_id", str(filters.job_id)))
    params += [
        (k, str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in extra.items()
        if v is not None
    ]
    return urlencode(params)


def _charts(report: KpiReport) -> dict[str, Any]:
    f = report.filters
    records = "/console/kpis/records?"
    weeks = report.figures.weeks
    timeliness = column_chart(
        [
            Bar(
                label=w.week.strftime("%m-%d"),
                value=w.timeliness_rate or 0.0,
                href=records + filter_query(f, metric="interviews", week=w.week.isoformat()),
                title=_(
                    "week of %(week)s: %(in_time)s of %(decided)s in time",
                    week=w.week,
                    in_time=w.in_time,
                    decided=w.completed - w.pending,
                )
                + (_(", %(n)s pending", n=w.pending) if w.pending else ""),
            )
            for w in weeks
        ],
        title=_("Feedback timeliness rate by week of completion"),
        max_value=1.0,
        percent=True,
    )
    completions = column_chart(
        [
            Bar(
                label=w.week.strftime("%m-%d"),
                value=w.completed,
                href=records + filter_query(f, metric="interviews", week=w.week.isoformat()),
                title=_("week of %(week)s: %(n)s interviews completed", week=w.week, n=w.completed),
            )
            for w in weeks
        ],
        title=_("Interviews completed by week"),
    )
    funnel = bar_list(
        [
            Bar(
                label=_(FUNNEL_LABELS[step]) if step in FUNNEL_LABELS else step.replace("_", " "),
                value=report.figures.funnel[step],
                href=records + filter_query(f, metric="funnel", step=step),
                title=ngettext(
                    "%(num)s application", "%(num)s applications", report.figures.funnel[step]
                ),
            )
            for step in FUNNEL_STEPS
        ],
        title=_("Funnel"),
    )
    delivery = bar_list(
        [
            Bar(
                label=c.channel.value,
                value=c.success_rate or 0.0,
                href=records + filter_query(f, metric="deliveries", channel=c.channel.value),
                title=_("%(sent)s of %(finished)s delivered", sent=c.sent, finished=c.finished),
                colour=LATE_COLOUR if (c.success_rate or 0) < 0.9 else "#2e7d32",
            )
            for c in report.figures.delivery
        ],
        title=_("Delivery success by channel"),
        percent=True,
    )
    status = bar_list(
        [
            Bar(
                _("in time"),
                report.figures.notified_in_time,
                records + filter_query(f, metric="interviews", timeliness=Timeliness.IN_TIME.value),
                _("notified within the promise"),
            ),
            Bar(
                _("late or missed"),
                report.figures.notified_late_or_missed,
                records + filter_query(f, metric="interviews", timeliness=Timeliness.LATE.value),
                _("notified after the promise, or not at all and the promise passed"),
                LATE_COLOUR,
            ),
            Bar(
                _("pending"),
                report.figures.pending_within_promise,
                records + filter_query(f, metric="interviews", timeliness=Timeliness.PENDING.value),
                _("not notified yet, still within the promise"),
                PENDING_COLOUR,
            ),
        ],
        title=_("Interviews by feedback status"),
    )
    return {
        **_conversation_charts(report),
        "timeliness_chart": timeliness,
        "completions_chart": completions,
        "funnel_chart": funnel,
        "delivery_chart": delivery,
        "status_chart": status,
    }


# The funnel's steps as HR says them (the step codes stay in the links).
FUNNEL_LABELS = {
    "applied": N_("applied"),
    "ai_interview_completed": N_("ai interview completed"),
    "result_sent": N_("result sent"),
    "next_round": N_("next round"),
    "offer": N_("offer"),
}


def _split_label(param: str, key: str) -> str:
    """A CSAT split's row: "outcome advance", "promise kept"."""
    if param == "outcome":
        return _("outcome %(outcome)s", outcome=label(key))
    return _("promise %(promise)s", promise=label(key))


def _conversation_charts(report: KpiReport) -> dict[str, Any]:
    """Reply rate, containment and hand-offs by week; CSAT's distribution and splits."""
    f = report.filters
    records = "/console/kpis/records?"
    weeks = report.figures.weeks
    replies = column_chart(
        [
            Bar(
                label=w.week.strftime("%m-%d"),
                value=w.reply_rate or 0.0,
                href=records + filter_query(f, metric="replies", week=w.week.isoformat()),
                title=_(
                    "week of %(week)s: %(replied)s of %(sent)s results replied to",
                    week=w.week,
                    replied=w.replied,
                    sent=w.results_sent,
                ),
            )
            for w in weeks
        ],
        title=_("Candidate reply rate by week of sending"),
        max_value=1.0,
        percent=True,
    )
    containment = column_chart(
        [
            Bar(
                label=w.week.strftime("%m-%d"),
                value=w.containment_rate or 0.0,
                href=records + filter_query(f, metric="conversations", week=w.week.isoformat()),
                title=_(
                    "week of %(week)s: %(contained)s of %(started)s conversations handled "
                    "by the bot alone",
                    week=w.week,
                    contained=w.contained,
                    started=w.conversations_started,
                ),
            )
            for w in weeks
        ],
        title=_("Bot containment by week of start"),
        max_value=1.0,
        percent=True,
    )
    handoffs = column_chart(
        [
            Bar(
                label=w.week.strftime("%m-%d"),
                value=w.handoffs,
                href=records + filter_query(f, metric="handoffs", week=w.week.isoformat()),
                title=_("week of %(week)s: %(n)s hand-offs", week=w.week, n=w.handoffs),
            )
            for w in weeks
        ],
        title=_("Hand-offs by week"),
    )
    csat = report.figures.csat
    distribution = bar_list(
        [
            Bar(
                label=f"{rating} ★",
                value=count,
                href=records + filter_query(f, metric="csat", rating=rating),
                title=ngettext(
                    "%(num)s answer rated %(rating)s",
                    "%(num)s answers rated %(rating)s",
                    count,
                    rating=rating,
                ),
                colour=LATE_COLOUR if rating <= 2 else BAR_COLOUR,
            )
            for rating, count in sorted(csat.distribution.items(), reverse=True)
        ],
        title=_("CSAT: answers by rating"),
    )
    groups = [("outcome", split) for split in report.figures.csat_by_outcome] + [
        ("promise", split) for split in report.figures.csat_by_promise
    ]
    splits = bar_list(
        [
            Bar(
                label=_split_label(param, split.key),
                value=split.mean or 0.0,
                href=records + filter_query(f, metric="csat", **{param: split.key}),
                title=_(
                    "mean %(mean).2f over %(rated)s of %(asked)s answered",
                    mean=split.mean or 0,
                    rated=split.rated,
                    asked=split.asked,
                ),
            )
            for param, split in groups
            if split.asked
        ],
        title=_("CSAT mean by outcome and by whether the promise was kept"),
        max_value=5.0,
    )
    csat_rows: list[tuple[str, dict[str, str], CsatFigures]] = [(_("all answers"), {}, csat)]
    csat_rows += [
        (_split_label(param, split.key), {param: split.key}, split) for param, split in groups
    ]
    return {
        "csat_rows": csat_rows,
        "replies_chart": replies,
        "containment_chart": containment,
        "handoffs_chart": handoffs,
        "csat_chart": distribution,
        "csat_splits_chart": splits,
    }


@contextmanager
def _error_pages() -> Iterator[None]:
    """The KPI services refuse with a domain error (JSON in the API); the console shows an
    error page."""
    try:
        yield
    except CandorError as exc:
        raise ConsoleHTTPError(exc.http_status, exc.message) from exc


async def _report(
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentConsoleUser,
    filters: KpiFilter,
    *,
    compare_teams: bool,
) -> KpiReport:
    with _error_pages():
        return await build_report(
            session, runtime, user.principal, filters, compare_teams=compare_teams
        )


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    filters: KpiFilterDep,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
    compare_teams: bool = False,
) -> Response:
    report = await _report(session, runtime, user, filters, compare_teams=compare_teams)
    return page(
        request,
        "kpis.html",
        user,
        active="kpis",
        report=report,
        f=report.figures,
        query=filter_query(filters),
        q=lambda **extra: filter_query(filters, **extra),
        choices=await filter_choices(session, user.principal),
        compare_teams=compare_teams,
        **_charts(report),
    )


@router.get("/records", response_class=HTMLResponse)
async def records(
    request: Request,
    drill: DrilldownQueryDep,
    filters: KpiFilterDep,
    paging: RecordsPageDep,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    with _error_pages():
        found = await load_records(session, runtime, user.principal, filters, drill.selection())
    window = paging.window(len(found.rows))
    return page(
        request,
        "kpi_records.html",
        user,
        active="kpis",
        records=found,
        shown=found.rows[window],
        first=window.start + 1,
        last=window.stop,
        previous=_page_link(request, max(paging.offset - paging.limit, 0))
        if paging.offset > 0
        else None,
        next=_page_link(request, window.stop) if window.stop < len(found.rows) else None,
        query=filter_query(filters),
    )


def _page_link(request: Request, offset: int) -> str:
    url = request.url.include_query_params(offset=offset)
    return f"{url.path}?{url.query}"


@router.get("/export.csv")
async def export(
    filters: KpiFilterDep,
    user: CurrentConsoleUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    with _error_pages():
        return await export_csv(session, runtime, user.principal, filters)
