"""The audit log pages (admins): the whole trail, filtered by who, what, object, team and
days; and who viewed whom (the reads of candidates' personal data), by reader, candidate
and days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.deps import ConsoleAdmin, ConsoleHTTPError
from api.console.rendering import page
from api.deps import SessionDep
from api.errors import ApiError
from api.kpi_params import optional_date, optional_id
from candor.audit.access import access_log
from candor.audit.service import ACTIONS, AuditFilter, list_entries
from candor.clock import BUSINESS_TZ

router = APIRouter(prefix="/console/audit", include_in_schema=False)
PAGE_SIZE = 100


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ) if day is not None else None


def _span(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """The from/to days (China's) as the instants a query filters between, `to` included."""
    return _day_start(start), _day_start(end + timedelta(days=1)) if end is not None else None


def _next_query(request: Request, last_id: int | None) -> str:
    """This page's filters with `before_id` moved past its last row (none when it is empty)."""
    params = {k: v for k, v in request.query_params.items() if k != "before_id" and v}
    if last_id is not None:
        params["before_id"] = str(last_id)
    return urlencode(params)


@router.get("", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    user: ConsoleAdmin,
    session: SessionDep,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    team_id: str | None = None,
    start_text: Annotated[str | None, Query(alias="from")] = None,
    end_text: Annotated[str | None, Query(alias="to")] = None,
    before_id: str | None = None,
) -> Response:
    try:
        start = optional_date(start_text, "from")
        end = optional_date(end_text, "to")
        team = optional_id(team_id, "team_id")
        before = optional_id(before_id, "before_id")
    except ApiError as exc:
        raise ConsoleHTTPError(422, exc.message) from exc
    since, until = _span(start, end)
    filters = AuditFilter(
        actor=actor or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        team_id=team,
        since=since,
        until=until,
        limit=PAGE_SIZE,
        before_id=before,
    )
    entries = await list_entries(session, filters)
    return page(
        request,
        "audit.html",
        user,
        active="audit",
        entries=entries,
        filters=filters,
        actions=ACTIONS,
        start=start,
        end=end,
        next_query=_next_query(request, entries[-1].id if entries else None),
    )


@router.get("/access", response_class=HTMLResponse)
async def access_page(
    request: Request,
    user: ConsoleAdmin,
    session: SessionDep,
    reader: str | None = None,
    candidate_id: str | None = None,
    start_text: Annotated[str | None, Query(alias="from")] = None,
    end_text: Annotated[str | None, Query(alias="to")] = None,
    before_id: str | None = None,
) -> Response:
    """Who viewed whom: every read of a candidate's personal data the audit log holds."""
    try:
        start = optional_date(start_text, "from")
        end = optional_date(end_text, "to")
        candidate = optional_id(candidate_id, "candidate_id")
        before = optional_id(before_id, "before_id")
    except ApiError as exc:
        raise ConsoleHTTPError(422, exc.message) from exc
    since, until = _span(start, end)
    rows = await access_log(
        session,
        reader=(reader or "").strip()[:100] or None,
        candidate_id=candidate,
        since=since,
        until=until,
        limit=PAGE_SIZE,
        before_id=before,
    )
    return page(
        request,
        "audit_access.html",
        user,
        active="audit",
        rows=rows,
        reader=reader or "",
        candidate_id=candidate,
        start=start,
        end=end,
        more=len(rows) == PAGE_SIZE,
        window_minutes=request.app.state.runtime.settings.access_audit_window_minutes,
        next_query=_next_query(request, rows[-1].entry.id if rows else None),
    )
