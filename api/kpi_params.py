"""The KPI filters and drill-down selection as query parameters, shared by `/api/v1/kpis`
and the dashboard.

Browsers submit an untouched form field as an empty string, so an empty value means "not
given" here rather than a validation error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, Query

from api.errors import ApiError
from candor.ids import parse_row_id
from candor.kpis import drilldown
from candor.kpis.filters import KpiFilter
from candor.kpis.promise import Promise, Timeliness
from candor.models.enums import Channel, Decision
from candor.sla.service import business_today

DEFAULT_DAYS = 90


def optional_id(value: str | None, name: str) -> int | None:
    if value is None or not value.strip():
        return None
    row_id = parse_row_id(value)
    if row_id is None:
        raise ApiError(422, "invalid_filter", f"{name} must be an id (a positive whole number)")
    return row_id


def optional_date(value: str | None, name: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ApiError(422, "invalid_filter", f"{name} must be a date, YYYY-MM-DD") from exc


def kpi_filter(
    start: Annotated[
        str | None,
        Query(
            alias="from", description="First local day, YYYY-MM-DD (default: 89 days before 'to')"
        ),
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="Last local day, included (default: today)")
    ] = None,
    team_id: Annotated[list[str] | None, Query(description="One or more team ids")] = None,
    recruiter_id: Annotated[str | None, Query(description="The jobs' owning recruiter")] = None,
    job_id: Annotated[str | None, Query(description="One job")] = None,
) -> KpiFilter:
    last = optional_date(end, "to") or business_today()
    first = optional_date(start, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    teams = [optional_id(t, "team_id") for t in team_id or ()]
    return KpiFilter(
        start=first,
        end=last,
        team_ids=tuple(dict.fromkeys(t for t in teams if t is not None)),
        recruiter_id=optional_id(recruiter_id, "recruiter_id"),
        job_id=optional_id(job_id, "job_id"),
    )


KpiFilterDep = Annotated[KpiFilter, Depends(kpi_filter)]


def parse_week(week: str | None) -> date | None:
    if week is None:
        return None
    try:
        return date.fromisoformat(week)
    except ValueError as exc:
        raise ApiError(422, "invalid_filter", f"week {week!r} is not YYYY-MM-DD") from exc


@dataclass(frozen=True, slots=True)
class DrilldownQuery:
    """Which records behind a figure were asked for. The week stays text until `selection()`,
    so each caller reports a bad one with its other errors: the API as JSON, the console as
    an error page."""

    week: str | None
    without_week: drilldown.Selection

    def selection(self) -> drilldown.Selection:
        return replace(self.without_week, week=parse_week(self.week))


def drilldown_query(
    metric: Annotated[str, Query(description=", ".join(drilldown.METRICS))],
    week: Annotated[str | None, Query(description="A week's Monday, YYYY-MM-DD")] = None,
    timeliness: Timeliness | None = None,
    channel: Channel | None = None,
    succeeded: Annotated[
        bool | None,
        Query(description="The metric's yes or no: delivered, replied, contained, answered, rated"),
    ] = None,
    step: str | None = None,
    rating: Annotated[int | None, Query(ge=1, le=5, description="A CSAT rating")] = None,
    outcome: Decision | None = None,
    promise: Promise | None = None,
) -> DrilldownQuery:
    return DrilldownQuery(
        week=week,
        without_week=drilldown.Selection(
            metric=metric,
            timeliness=timeliness,
            channel=channel,
            succeeded=succeeded,
            step=step,
            rating=rating,
            outcome=outcome,
            promise=promise,
        ),
    )


DrilldownQueryDep = Annotated[DrilldownQuery, Depends(drilldown_query)]


MAX_RECORDS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RecordsPage:
    """One page of a drill-down: a 90-day figure at scale stands on ~100,000 records, more
    than a browser table or one JSON answer should carry."""

    offset: int
    limit: int

    def window(self, total: int) -> slice:
        return slice(min(self.offset, total), min(self.offset + self.limit, total))


def records_page(
    offset: Annotated[int, Query(ge=0, description="Records to skip")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_RECORDS_PAGE, description="Records to return (at most 1000)")
    ] = 200,
) -> RecordsPage:
    return RecordsPage(offset=offset, limit=limit)


RecordsPageDep = Annotated[RecordsPage, Depends(records_page)]
