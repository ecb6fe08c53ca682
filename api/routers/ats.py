"""ATS and AI-interview vendors push their events here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from api.deps import AtsIntegration, RuntimeDep, SessionDep
from api.errors import INTEGRATION_TOKEN, UNREADABLE_BODY, error_responses
from candor.ats.intake import accept_event
from candor.ats.schemas import AtsEventIn, EventAccepted
from candor.outreach.context import ResultDrafter

router = APIRouter(prefix="/api/v1/ats", tags=["ats"])


@router.post(
    "/events",
    summary="Ingest one ATS event (idempotent by event_id)",
    response_model=EventAccepted,
    responses=error_responses(
        INTEGRATION_TOKEN,
        UNREADABLE_BODY,
        {
            409: "Same event_id with another body, or an impossible transition",
            422: "Invalid event, or it refers to an unknown team/application",
            503: "No message template fits a decided result, or the database connection "
            "was lost; retry later",
        },
    ),
)
async def post_event(
    event: Annotated[AtsEventIn, Body()],
    session: SessionDep,
    runtime: RuntimeDep,
    _integration: AtsIntegration,
) -> JSONResponse:
    outcome = await accept_event(session, event, on_result_decided=ResultDrafter(runtime.settings))
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
