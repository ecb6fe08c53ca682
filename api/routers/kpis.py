"""Response KPIs for HR: the figures, the records behind each, and a CSV export.

Definitions: docs/kpis.md. Every HR user sees the figures of their own teams; admins see
every team.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CurrentHR, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, error_responses
from api.kpi_params import DrilldownQueryDep, KpiFilterDep, RecordsPageDep
from candor.auth.principals import HRPrincipal
from candor.clock import utcnow
from candor.kpis import drilldown, figures
from candor.kpis.export import export_report
from candor.kpis.filters import KpiFilter
from candor.kpis.schemas import KpiReportOut, RecordsOut
from candor.sla.service import current_calendar

router = APIRouter(
    prefix="/api/v1/kpis",
    tags=["kpis"],
    responses=error_responses(
        HR_TOKEN,
        {
            404: "A team, recruiter or job outside your teams (`invalid_filter`)",
            422: "A filter or parameter does not match the schema (`invalid_request`, "
            "`invalid_filter`)",
        },
    ),
)


async def build_report(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: HRPrincipal,
    filters: KpiFilter,
    *,
    compare_teams: bool,
) -> figures.KpiReport:
    return await figures.report(
        session,
        principal,
        filters,
        await current_calendar(session),
        promise_working_days=runtime.settings.promise_working_days,
        compare_teams=compare_teams,
    )


@router.get("", response_model=KpiReportOut, summary="The response KPIs")
async def kpis(
    filters: KpiFilterDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
    compare_teams: bool = False,
) -> KpiReportOut:
    report = await build_report(session, runtime, principal, filters, compare_teams=compare_teams)
    return KpiReportOut.model_validate(report)


@router.get(
    "/records",
    response_model=RecordsOut,
    summary="The records behind one figure",
)
async def records(
    # Before the filters, so the drill-down's parameters stay listed first in the OpenAPI.
    drill: DrilldownQueryDep,
    filters: KpiFilterDep,
    paging: RecordsPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> RecordsOut:
    found = await load_records(session, runtime, principal, filters, drill.selection())
    shown = found.rows[paging.window(len(found.rows))]
    return RecordsOut(
        title=found.title,
        columns=found.columns,
        total=len(found.rows),
        offset=paging.offset,
        limit=paging.limit,
        rows=[row.cells for row in shown],
        message_ids=[row.message_id for row in shown],
    )


async def load_records(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: HRPrincipal,
    filters: KpiFilter,
    selection: drilldown.Selection,
) -> drilldown.Records:
    return await drilldown.records(
        session,
        principal,
        filters,
        await current_calendar(session),
        selection,
        promise_working_days=runtime.settings.promise_working_days,
        now=utcnow(),
    )


async def export_csv(
    session: SessionDep, runtime: RuntimeDep, principal: HRPrincipal, filters: KpiFilter
) -> Response:
    """The report as CSV, audited by the service: exports carry candidates' data out."""
    text = await export_report(
        session,
        principal,
        filters,
        await current_calendar(session),
        promise_working_days=runtime.settings.promise_working_days,
    )
    name = f"candor-kpis-{filters.start}-{filters.end}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/export.csv", summary="The report as CSV (audited)")
async def export(
    filters: KpiFilterDep, session: SessionDep, runtime: RuntimeDep, principal: CurrentHR
) -> Response:
    return await export_csv(session, runtime, principal, filters)
