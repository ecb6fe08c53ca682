"""Webhook endpoints of the ATS in the console (admins only): add, change, rotate the secret,
delete, and see every delivery with its attempts, replaying one.

Thin, like the access pages: each handler parses the form, calls one `candor.webhooks`
service and redirects with a status line, or re-renders with the problems next to their
fields (422, nothing written). A new secret is shown in that one response only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from api.console.deps import (
    CheckedForm,
    ConsoleAdmin,
    ConsoleHTTPError,
    ConsoleUser,
    form_text,
)
from api.console.i18n import N_, _
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from candor.clock import utcnow
from candor.ids import RowId
from candor.models.webhooks import WebhookAttempt, WebhookEndpoint, WebhookEventType
from candor.runtime import Runtime
from candor.webhooks import service
from candor.webhooks.addresses import WebhookUrlError
from candor.webhooks.schemas import WebhookDeliveryOut, WebhookEndpointIn, WebhookEndpointPatch

router = APIRouter(prefix="/console/admin/webhooks", include_in_schema=False)
BASE = "/console/admin/webhooks"
DELIVERIES_SHOWN = 50
DONE = {
    "updated": N_("Saved."),
    "deleted": N_("Endpoint deleted, with its deliveries."),
    "replayed": N_("The delivery is queued again, with the same webhook-id."),
    "in_flight": N_("The delivery is being sent right now; replay it once this attempt shows."),
}


def _values(form: FormData) -> dict[str, Any]:
    return {
        "url": form_text(form, "url").strip(),
        "description": form_text(form, "description").strip(),
        "event_types": [t for t in form.getlist("event_types") if isinstance(t, str)],
        "enabled": form_text(form, "enabled") == "on",
    }


def _sending(endpoint: WebhookEndpoint) -> bool:
    """What the form's "enabled" box shows: on only while Candor sends to the endpoint."""
    return endpoint.enabled and endpoint.disabled_at is None


def _problems(exc: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        problems.setdefault(field, error["msg"])
    return problems


def _not_found(exc: service.WebhookNotFoundError) -> ConsoleHTTPError:
    return ConsoleHTTPError(404, exc.message)


async def _endpoint(session: SessionDep, endpoint_id: int) -> WebhookEndpoint:
    try:
        return await service.get_endpoint(session, endpoint_id)
    except service.WebhookNotFoundError as exc:
        raise _not_found(exc) from exc


def _done(request: Request) -> str | None:
    done = DONE.get(request.query_params.get("done", ""))
    return _(done) if done else None


async def _list_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    runtime: Runtime,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    issued: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "admin_webhooks.html",
        user,
        status_code=status_code,
        active="admin",
        rows=await service.list_endpoints(session, limit=500),
        event_types=[t.value for t in WebhookEventType],
        form=form or {"event_types": [], "enabled": True},
        problems=problems or {},
        issued=issued,
        allow_private=runtime.settings.webhooks_allow_private_networks,
        done=_done(request),
    )


@router.get("", response_class=HTMLResponse)
async def webhooks_page(
    request: Request, user: ConsoleAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _list_page(request, user, session, runtime)


@router.post("", response_class=HTMLResponse)
async def create_endpoint(
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    values = _values(form)
    try:
        data = WebhookEndpointIn.model_validate(values)
        endpoint = await service.create_endpoint(
            session,
            data,
            service.WebhookPolicy.from_settings(runtime.settings),
            actor=user.actor,
            now=utcnow(),
        )
    except ValidationError as exc:
        return await _list_page(
            request, user, session, runtime, form=values, problems=_problems(exc), status_code=422
        )
    except WebhookUrlError as exc:
        await session.rollback()
        return await _list_page(
            request, user, session, runtime, form=values, problems={"url": exc.message},
            status_code=422,
        )  # fmt: skip
    issued = {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret}
    return await _list_page(request, user, session, runtime, issued=issued, status_code=201)


async def _endpoint_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    endpoint: WebhookEndpoint,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    issued: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    deliveries = await service.list_deliveries(session, endpoint.id, limit=DELIVERIES_SHOWN)
    attempts = await _attempts_of(session, deliveries)
    return page(
        request,
        "admin_webhook.html",
        user,
        status_code=status_code,
        active="admin",
        endpoint=endpoint,
        deliveries=deliveries,
        attempts=attempts,
        event_types=[t.value for t in WebhookEventType],
        form=form
        or {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": list(endpoint.event_types),
            "enabled": _sending(endpoint),
        },
        problems=problems or {},
        issued=issued,
        done=_done(request),
    )


async def _attempts_of(
    session: SessionDep, deliveries: list[WebhookDeliveryOut]
) -> dict[int, list[WebhookAttempt]]:
    """The attempts of the deliveries shown, in one query."""
    by_delivery: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if by_delivery:
        found = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(by_delivery)))
            .order_by(WebhookAttempt.id)
        )
        for attempt in found:
            by_delivery[attempt.delivery_id].append(attempt)
    return by_delivery


@router.get("/{endpoint_id}", response_class=HTMLResponse)
async def endpoint_page(
    endpoint_id: RowId, request: Request, user: ConsoleAdmin, session: SessionDep
) -> Response:
    endpoint = await _endpoint(session, endpoint_id)
    return await _endpoint_page(request, user, session, endpoint)


@router.post("/{endpoint_id}", response_class=HTMLResponse)
async def update_endpoint(
    endpoint_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    endpoint = await _endpoint(session, endpoint_id)
    values = _values(form)
    # The box changes the state only when ticked or cleared: saving the description of an
    # automatically disabled endpoint must neither enable it nor switch it off.
    changes = dict(
        values, enabled=None if values["enabled"] == _sending(endpoint) else values["enabled"]
    )
    try:
        patch = WebhookEndpointPatch.model_validate(changes)
        await service.update_endpoint(
            session,
            endpoint_id,
            patch,
            service.WebhookPolicy.from_settings(runtime.settings),
            actor=user.actor,
            now=utcnow(),
        )
    except ValidationError as exc:
        problems = _problems(exc)
    except WebhookUrlError as exc:
        await session.rollback()
        problems = {"url": exc.message}
    else:
        return RedirectResponse(f"{BASE}/{endpoint_id}?done=updated", status_code=303)
    endpoint = await _endpoint(session, endpoint_id)
    return await _endpoint_page(
        request, user, session, endpoint, form=values, problems=problems, status_code=422
    )


@router.post("/{endpoint_id}/rotate", response_class=HTMLResponse)
async def rotate_secret(
    endpoint_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    try:
        endpoint = await service.rotate_secret(
            session,
            endpoint_id,
            service.WebhookPolicy.from_settings(runtime.settings),
            actor=user.actor,
            now=utcnow(),
        )
    except service.WebhookNotFoundError as exc:
        raise _not_found(exc) from exc
    issued = {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret}
    return await _endpoint_page(request, user, session, endpoint, issued=issued)


@router.post("/{endpoint_id}/delete")
async def delete_endpoint(
    endpoint_id: RowId, user: ConsoleAdmin, _form: CheckedForm, session: SessionDep
) -> Response:
    try:
        await service.delete_endpoint(session, endpoint_id, actor=user.actor, now=utcnow())
    except service.WebhookNotFoundError as exc:
        raise _not_found(exc) from exc
    return RedirectResponse(f"{BASE}?done=deleted", status_code=303)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/replay")
async def replay_delivery(
    endpoint_id: RowId,
    delivery_id: RowId,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
) -> Response:
    try:
        await service.replay_delivery(
            session, endpoint_id, delivery_id, actor=user.actor, now=utcnow()
        )
    except service.WebhookNotFoundError as exc:
        raise _not_found(exc) from exc
    except service.WebhookDeliveryInFlightError:
        return RedirectResponse(f"{BASE}/{endpoint_id}?done=in_flight", status_code=303)
    return RedirectResponse(f"{BASE}/{endpoint_id}?done=replayed", status_code=303)
