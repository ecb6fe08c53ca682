"""The audit log page (admins): filter by who, what, object, team and days."""

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
from candor.audit.service import ACTIONS, AuditFilter, list_entries
from candor.clock import BUSINESS_TZ

router = APIRouter(prefix="/console/audit", include_in_schema=False)
PAGE_SIZE = 100


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ) if day is not None else None


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
    filters = AuditFilter(
        actor=actor or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        team_id=team,
        since=_day_start(start),
        until=_day_start(end + timedelta(days=1)) if end is not None else None,
        limit=PAGE_SIZE,
        before_id=before,
    )
    entries = await list_entries(session, filters)
    params = {k: v for k, v in request.query_params.items() if k != "before_id" and v}
    if entries:
        params["before_id"] = str(entries[-1].id)
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
        next_query=urlencode(params),
    )
