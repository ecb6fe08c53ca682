"""The audit trail, for admins: who did what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict

from api.deps import CurrentAdmin, SessionDep
from api.errors import HR_TOKEN, error_responses
from candor.audit.service import AuditFilter, list_entries
from candor.ids import RowCursor, RowId


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    team_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any]


router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    response_model=list[AuditEntryOut],
    responses=error_responses(HR_TOKEN, {403: "Admins only (`forbidden`), or not an HR token"}),
    summary="The audit trail, newest first (admin)",
)
async def audit_log(
    session: SessionDep,
    _admin: CurrentAdmin,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    team_id: RowId | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: RowCursor | None = None,
) -> list[AuditEntryOut]:
    entries = await list_entries(
        session,
        AuditFilter(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            team_id=team_id,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        ),
    )
    return [AuditEntryOut.model_validate(entry) for entry in entries]
