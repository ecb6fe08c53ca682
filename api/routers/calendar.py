"""China's working-day calendar: read it, and let admins load each year's official schedule."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from api.deps import CalendarReader, CalendarWriter, SessionDep
from api.errors import INTEGRATION_TOKEN, UNREADABLE_BODY, error_responses
from candor.models import ApiToken
from candor.sla import service
from candor.sla.calendar import COVERAGE_HORIZON_DAYS, package_data
from candor.sla.schedule import YearSchedule
from candor.sla.schemas import (
    AdminYearOut,
    CoverageOut,
    DayOut,
    DayOverrideIn,
    DaysOut,
    PackageOut,
    YearLoadedOut,
)

router = APIRouter(
    prefix="/api/v1/calendar",
    tags=["calendar"],
    responses=error_responses(INTEGRATION_TOKEN),
)
_INVALID = error_responses(UNREADABLE_BODY, {422: "Invalid input; nothing was written"})
DateParam = Annotated[dt.date, Path(description="YYYY-MM-DD")]
YearParam = Annotated[int, Path(ge=1990, le=2100)]


def _source(token: ApiToken) -> str:
    return f"api:{token.name}"


@router.get(
    "/days",
    summary="Each day in a range: working or not, why, and whether it is estimated",
    response_model=DaysOut,
    responses=_INVALID,
)
async def list_days(
    session: SessionDep,
    _token: CalendarReader,
    from_: Annotated[
        dt.date | None, Query(alias="from", description="Default: today (Asia/Shanghai)")
    ] = None,
    to: Annotated[
        dt.date | None,
        Query(description=f"Default: from + {COVERAGE_HORIZON_DAYS} days; at most 366 days"),
    ] = None,
) -> DaysOut:
    start = from_ or service.business_today()
    end = to or start + dt.timedelta(days=COVERAGE_HORIZON_DAYS)
    calendar = await service.current_calendar(session)
    days = service.days_between(calendar, start, end)
    return DaysOut(
        from_=start,
        to=end,
        coverage_end=calendar.coverage_end(),
        estimated=any(day.estimated for day in days),
        days=[DayOut.of(day) for day in days],
    )


@router.put(
    "/days/{date}",
    summary="Declare one date a holiday or a working day (wins over package data)",
    response_model=DayOut,
    responses=_INVALID,
)
async def put_day(
    date: DateParam,
    body: Annotated[DayOverrideIn, Body()],
    session: SessionDep,
    token: CalendarWriter,
) -> DayOut:
    info = await service.set_day(
        session, date, kind=body.kind, name=body.name, source=_source(token)
    )
    return DayOut.of(info)


@router.delete(
    "/days/{date}",
    summary="Remove an admin override; the date falls back to package data or the rule",
    response_model=DayOut,
    responses=error_responses({404: "The date has no admin override"}),
)
async def delete_day(date: DateParam, session: SessionDep, token: CalendarWriter) -> DayOut:
    return DayOut.of(await service.delete_day(session, date, source=_source(token)))


@router.get(
    "/years",
    summary="Which years the calendar knows, and until when",
    response_model=CoverageOut,
)
async def list_years(session: SessionDep, _token: CalendarReader) -> CoverageOut:
    calendar = await service.current_calendar(session)
    return CoverageOut(
        package=PackageOut.of(package_data()),
        admin_years=[
            AdminYearOut(
                year=row.year, source=row.source, reference=row.reference, loaded_at=row.loaded_at
            )
            for row in await service.admin_years(session)
        ],
        coverage_end=calendar.coverage_end(),
        warning=calendar.coverage_warning(service.business_today()),
    )


@router.post(
    "/years/{year}",
    summary="Load a year's complete official schedule (the data file's JSON form)",
    description="Replaces every admin entry dated in that year, and marks the year known: "
    "its dates are no longer estimated, and the package's data for it is no longer used. "
    "The whole document is checked first; any problem is a 422 naming the entry, and "
    "nothing is written.",
    response_model=YearLoadedOut,
    responses=_INVALID,
)
async def post_year(
    year: YearParam,
    schedule: Annotated[YearSchedule, Body()],
    session: SessionDep,
    token: CalendarWriter,
) -> YearLoadedOut:
    loaded = await service.load_year(session, schedule, source=_source(token), year=year)
    calendar = await service.load_calendar(session)
    return YearLoadedOut(
        year=loaded.year,
        holidays=loaded.holidays,
        workdays=loaded.workdays,
        replaced=loaded.replaced,
        coverage_end=calendar.coverage_end(),
    )


@router.delete(
    "/years/{year}",
    summary="Forget a loaded year's schedule and its admin entries",
    status_code=204,
    responses=error_responses({404: "No schedule was loaded for that year"}),
)
async def delete_year(year: YearParam, session: SessionDep, token: CalendarWriter) -> Response:
    await service.delete_year(session, year, source=_source(token))
    return Response(status_code=204)
