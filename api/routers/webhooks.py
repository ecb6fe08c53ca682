"""Webhook endpoints of the ATS (admin only): manage them, see every delivery and attempt,
replay one. Every POST takes an `Idempotency-Key`; the signing secret is in the answer of
the create and rotate calls only, once: a replay of that POST returns the same answer with
`secret: null` (the idempotency store never holds it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.deps import CurrentAdmin, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, UNREADABLE_BODY, error_responses
from api.idempotent import IdempotentPostDep
from api.paging import DEFAULT_PAGE_SIZE, AfterId, PageLimit
from candor.clock import utcnow
from candor.ids import RowCursor, RowId
from candor.models.webhooks import WebhookDeliveryState
from candor.webhooks import service
from candor.webhooks.schemas import (
    WebhookAttemptOut,
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookEndpointWithSecret,
)

router = APIRouter(
    prefix="/api/v1/webhook-endpoints",
    tags=["webhooks"],
    responses=error_responses(HR_TOKEN, {403: "Admins only (`forbidden`), or not an HR token"}),
)
NOT_FOUND = {404: "No such endpoint (or delivery of it) (`not_found`)"}
INVALID_ENDPOINT = {
    422: "Invalid body (`invalid_request`: an unknown event type, a field too long, ...), "
    "a malformed URL (`webhook_url_invalid`) or one reaching a loopback, private, "
    "link-local, multicast or reserved address (`webhook_url_refused`)"
}


def _with_secret(endpoint: Any) -> dict[str, Any]:
    return WebhookEndpointWithSecret.model_validate(endpoint).model_dump(mode="json")


def _secret_shown_once(answer: dict[str, Any]) -> dict[str, Any]:
    """What the idempotency store keeps of an answer with a secret: all but the secret, so
    a replay of the POST (or a read of the store) does not show it again."""
    return {**answer, "secret": None}


@router.get("", response_model=list[WebhookEndpointOut], summary="The endpoints, by id (paged)")
async def list_endpoints(
    session: SessionDep,
    _admin: CurrentAdmin,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[WebhookEndpointOut]:
    endpoints = await service.list_endpoints(session, limit=limit, after_id=after_id)
    return [WebhookEndpointOut.model_validate(e) for e in endpoints]


@router.post(
    "",
    response_model=WebhookEndpointWithSecret,
    responses=error_responses(UNREADABLE_BODY, IDEMPOTENT_POST, INVALID_ENDPOINT),
    summary="Add an endpoint; the answer holds its signing secret, shown this once",
)
async def create_endpoint(
    body: WebhookEndpointIn,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: CurrentAdmin,
) -> JSONResponse:
    async def action() -> Any:
        endpoint = await service.create_endpoint(
            session,
            body,
            service.WebhookPolicy.from_settings(runtime.settings),
            actor=admin.actor,
            now=utcnow(),
        )
        return _with_secret(endpoint)

    return await post.run(body.model_dump(mode="json"), action, stored_as=_secret_shown_once)


@router.get(
    "/{endpoint_id}", response_model=WebhookEndpointOut, responses=error_responses(NOT_FOUND)
)
async def get_endpoint(
    endpoint_id: RowId, session: SessionDep, _admin: CurrentAdmin
) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_validate(await service.get_endpoint(session, endpoint_id))


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    responses=error_responses(UNREADABLE_BODY, NOT_FOUND, INVALID_ENDPOINT),
    summary="Change an endpoint; `enabled: true` also lifts an automatic disabling",
)
async def update_endpoint(
    endpoint_id: RowId,
    body: WebhookEndpointPatch,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: CurrentAdmin,
) -> WebhookEndpointOut:
    endpoint = await service.update_endpoint(
        session,
        endpoint_id,
        body,
        service.WebhookPolicy.from_settings(runtime.settings),
        actor=admin.actor,
        now=utcnow(),
    )
    return WebhookEndpointOut.model_validate(endpoint)


@router.delete("/{endpoint_id}", status_code=204, responses=error_responses(NOT_FOUND))
async def delete_endpoint(endpoint_id: RowId, session: SessionDep, admin: CurrentAdmin) -> Response:
    await service.delete_endpoint(session, endpoint_id, actor=admin.actor, now=utcnow())
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND),
    summary="A new signing secret (shown this once); the old one signs beside it for "
    "CANDOR_WEBHOOKS_SECRET_GRACE_HOURS",
)
async def rotate_secret(
    endpoint_id: RowId,
    post: IdempotentPostDep,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: CurrentAdmin,
) -> JSONResponse:
    async def action() -> Any:
        endpoint = await service.rotate_secret(
            session,
            endpoint_id,
            service.WebhookPolicy.from_settings(runtime.settings),
            actor=admin.actor,
            now=utcnow(),
        )
        return _with_secret(endpoint)

    return await post.run({"endpoint_id": endpoint_id}, action, stored_as=_secret_shown_once)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=list[WebhookDeliveryOut],
    responses=error_responses(NOT_FOUND),
    summary="The endpoint's deliveries, newest first (paged)",
)
async def list_deliveries(
    endpoint_id: RowId,
    session: SessionDep,
    _admin: CurrentAdmin,
    state: WebhookDeliveryState | None = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    before_id: Annotated[
        RowCursor | None,
        Query(description="The last `id` of the previous page: the next page is older"),
    ] = None,
) -> list[WebhookDeliveryOut]:
    return await service.list_deliveries(
        session, endpoint_id, state=state, limit=limit, before_id=before_id or None
    )


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=WebhookDeliveryOut,
    responses=error_responses(NOT_FOUND),
)
async def get_delivery(
    endpoint_id: RowId, delivery_id: RowId, session: SessionDep, _admin: CurrentAdmin
) -> WebhookDeliveryOut:
    return await service.delivery_out(session, endpoint_id, delivery_id)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}/attempts",
    response_model=list[WebhookAttemptOut],
    responses=error_responses(NOT_FOUND),
    summary="Every attempt of a delivery: status, latency, response excerpt, error (paged)",
)
async def list_attempts(
    endpoint_id: RowId,
    delivery_id: RowId,
    session: SessionDep,
    _admin: CurrentAdmin,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[WebhookAttemptOut]:
    attempts = await service.list_attempts(
        session, endpoint_id, delivery_id, limit=limit, after_id=after_id
    )
    return [WebhookAttemptOut.model_validate(a) for a in attempts]


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    response_model=WebhookDeliveryOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        NOT_FOUND,
        {
            409: "A worker is sending the delivery right now (`webhook_delivery_in_flight`), "
            "or the Idempotency-Key was used otherwise (`idempotency_conflict`)"
        },
    ),
    summary="Send one delivery again, with the same webhook-id and a fresh retry schedule",
)
async def replay_delivery(
    endpoint_id: RowId,
    delivery_id: RowId,
    post: IdempotentPostDep,
    session: SessionDep,
    admin: CurrentAdmin,
) -> JSONResponse:
    async def action() -> Any:
        replayed = await service.replay_delivery(
            session, endpoint_id, delivery_id, actor=admin.actor, now=utcnow()
        )
        return replayed.model_dump(mode="json")

    return await post.run({"endpoint_id": endpoint_id, "delivery_id": delivery_id}, action)
