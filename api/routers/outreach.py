"""HR's approval queue for result messages. Every POST takes an `Idempotency-Key`."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentHR, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, ApiError, error_responses
from api.idempotent import IdempotentPostDep
from candor.clock import BUSINESS_TZ, utcnow
from candor.ids import RowCursor, RowId
from candor.models.outreach import MessageState, OutreachMessage
from candor.outreach import queries, service, sla_watch
from candor.outreach.context import outreach_context
from candor.outreach.schemas import (
    BulkApprove,
    BulkApproveResult,
    EditAndApprove,
    MessageOut,
    Reject,
    SlaOverviewOut,
)
from candor.sla.service import current_calendar

router = APIRouter(
    prefix="/api/v1/outreach", tags=["outreach"], responses=error_responses(HR_TOKEN)
)
NOT_FOUND = error_responses({404: "No such message in your teams"})
DECISION = error_responses(
    IDEMPOTENT_POST,
    {
        404: "No such message in your teams",
        409: "The message is no longer waiting for HR (`invalid_transition`), or the "
        "Idempotency-Key was used otherwise",
        422: "Invalid body, or the (edited) text is no valid message (`invalid_template`)",
    },
)


@router.get("/messages", response_model=list[MessageOut], summary="The approval queue")
async def list_messages(
    session: SessionDep,
    principal: CurrentHR,
    team_id: RowId | None = None,
    job_id: RowId | None = None,
    state: Annotated[list[MessageState] | None, Query()] = None,
    due_within_working_days: Annotated[
        int | None,
        Query(
            ge=0,
            le=30,
            description="SLA urgency: due by the end of the "
            "Nth working day from today (0 = today or overdue)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after_id: RowCursor | None = None,
) -> list[MessageOut]:
    due_before: datetime | None = None
    if due_within_working_days is not None:
        calendar = await current_calendar(session)
        today = utcnow().astimezone(BUSINESS_TZ).date()
        last_day, _ = calendar.add_working_days(today, due_within_working_days)
        due_before = datetime.combine(last_day, time.max, tzinfo=BUSINESS_TZ)
    messages = await queries.list_messages(
        session,
        principal,
        queries.MessageFilter(
            team_id=team_id,
            job_id=job_id,
            states=state or (),
            due_before=due_before,
            limit=limit,
            after_id=after_id,
        ),
    )
    return [MessageOut.of(message) for message in messages]


@router.get("/sla", response_model=SlaOverviewOut, summary="The feedback promise in my teams")
async def sla(session: SessionDep, principal: CurrentHR) -> SlaOverviewOut:
    """Per team: unsent messages due within 2 working days, and unsent ones past due; then
    my own SLA reminders, escalations and breach notices not yet delivered to me."""
    overview = await sla_watch.sla_overview(session, principal, now=utcnow())
    return SlaOverviewOut.of(overview)


@router.get(
    "/messages/{message_id}",
    response_model=MessageOut,
    responses=NOT_FOUND,
    summary="One message with its full history",
)
async def get_message(message_id: RowId, session: SessionDep, principal: CurrentHR) -> MessageOut:
    message = await _visible(session, principal, message_id)
    return MessageOut.of(message, await queries.message_history(session, message.id))


@router.post("/messages/{message_id}/approve", response_model=MessageOut, responses=DECISION)
async def approve(
    message_id: RowId,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        message = await _visible(session, principal, message_id, for_update=True)
        context = await outreach_context(session, runtime.settings)
        await service.approve(session, message, context, actor=principal.actor)
        return MessageOut.of(message).model_dump(mode="json")

    return await post.run({}, action)


@router.post(
    "/messages/{message_id}/edit-and-approve", response_model=MessageOut, responses=DECISION
)
async def edit_and_approve(
    message_id: RowId,
    edit: EditAndApprove,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        message = await _visible(session, principal, message_id, for_update=True)
        context = await outreach_context(session, runtime.settings)
        await service.approve(
            session,
            message,
            context,
            actor=principal.actor,
            edited_body=edit.body,
            edited_subject=edit.subject,
        )
        return MessageOut.of(message).model_dump(mode="json")

    return await post.run(edit.model_dump(mode="json"), action)


@router.post(
    "/messages/{message_id}/redraft",
    response_model=MessageOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        {
            404: "No such message in your teams",
            409: "The message does not need attention (`invalid_transition`), or the "
            "Idempotency-Key was used otherwise",
            422: "The current template still fails to render (`template_render_failed`); "
            "nothing changed",
        },
    ),
    summary="Draft a message that needs attention again, with the current template",
)
async def redraft(
    message_id: RowId,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        message = await _visible(session, principal, message_id, for_update=True)
        context = await outreach_context(session, runtime.settings)
        await service.redraft(session, message, context, actor=principal.actor)
        return MessageOut.of(message).model_dump(mode="json")

    return await post.run({}, action)


@router.post("/messages/{message_id}/reject", response_model=MessageOut, responses=DECISION)
async def reject(
    message_id: RowId,
    rejection: Reject,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        message = await _visible(session, principal, message_id, for_update=True)
        await service.reject(session, message, actor=principal.actor, reason=rejection.reason)
        return MessageOut.of(message).model_dump(mode="json")

    return await post.run(rejection.model_dump(mode="json"), action)


@router.post(
    "/messages/bulk-approve",
    response_model=BulkApproveResult,
    responses=error_responses(IDEMPOTENT_POST),
)
async def bulk_approve(
    selection: BulkApprove,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        messages = [
            message
            for message_id in dict.fromkeys(selection.message_ids)
            if (
                message := await queries.visible_message(
                    session, principal, message_id, for_update=True
                )
            )
            is not None
        ]
        context = await outreach_context(session, runtime.settings)
        approved, not_found, conflicts = await service.bulk_approve(
            session, messages, selection.message_ids, context, actor=principal.actor
        )
        return BulkApproveResult(
            approved=approved, not_found=not_found, conflicts=conflicts
        ).model_dump(mode="json")

    return await post.run(selection.model_dump(mode="json"), action)


async def _visible(
    session: SessionDep, principal: CurrentHR, message_id: RowId, *, for_update: bool = False
) -> OutreachMessage:
    message = await queries.visible_message(session, principal, message_id, for_update=for_update)
    if message is None:
        raise ApiError(404, "not_found", f"no message {message_id}")
    return message
