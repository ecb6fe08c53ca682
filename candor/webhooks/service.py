"""Admins' management of webhook endpoints: create, change, delete, rotate the secret, read
the deliveries and their attempts, replay one. Every write runs in the caller's transaction
with its audit row; the secret is returned only when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
)
from candor.privacy.personal_data import ERASED_TEXT
from candor.settings import Settings
from candor.webhooks.addresses import check_on_save
from candor.webhooks.schemas import (
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointPatch,
)
from candor.webhooks.signing import generate_secret

log = get_logger(__name__)


class WebhookNotFoundError(CandorError):
    code = "not_found"
    http_status = 404


class WebhookDeliveryInFlightError(CandorError):
    """A worker is sending the delivery right now; replaying it would race that worker."""

    code = "webhook_delivery_in_flight"
    http_status = 409


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """What the service needs from the settings."""

    allow_private_networks: bool
    secret_grace: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookPolicy:
        return cls(
            allow_private_networks=settings.webhooks_allow_private_networks,
            secret_grace=timedelta(hours=settings.webhooks_secret_grace_hours),
        )


def _fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabled_at": endpoint.disabled_at.isoformat() if endpoint.disabled_at else None,
        "disabled_reason": endpoint.disabled_reason,
    }


async def create_endpoint(
    session: AsyncSession,
    data: WebhookEndpointIn,
    policy: WebhookPolicy,
    *,
    actor: str,
    now: datetime,
) -> WebhookEndpoint:
    await check_on_save(data.url, allow_private=policy.allow_private_networks)
    endpoint = WebhookEndpoint(
        url=data.url,
        description=data.description,
        event_types=[t.value for t in data.event_types],
        secret=generate_secret(),
        enabled=data.enabled,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.WEBHOOK_ENDPOINT_CREATED,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        after=_fields(endpoint),
        at=now,
    )
    log.info("webhooks.endpoint_created", endpoint_id=endpoint.id, actor=actor)
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookNotFoundError(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def list_endpoints(
    session: AsyncSession, *, limit: int, after_id: int | None = None
) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit)
    if after_id is not None:
        query = query.where(WebhookEndpoint.id > after_id)
    return list((await session.scalars(query)).all())


async def update_endpoint(
    session: AsyncSession,
    endpoint_id: int,
    patch: WebhookEndpointPatch,
    policy: WebhookPolicy,
    *,
    actor: str,
    now: datetime,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, endpoint_id)
    before = _fields(endpoint)
    if patch.url is not None:
        await check_on_save(patch.url, allow_private=policy.allow_private_networks)
        endpoint.url = patch.url
    if patch.description is not None:
        endpoint.description = patch.description
    if patch.event_types is not None:
        endpoint.event_types = [t.value for t in patch.event_types]
    if patch.enabled is False:
        endpoint.enabled = False
    elif patch.enabled and (not endpoint.enabled or endpoint.disabled_at is not None):
        await _resume(session, endpoint, now=now)
    endpoint.updated_at = now
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.WEBHOOK_ENDPOINT_UPDATED,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        before=before,
        after=_fields(endpoint),
        at=now,
    )
    log.info("webhooks.endpoint_updated", endpoint_id=endpoint.id, actor=actor)
    return endpoint


async def _resume(session: AsyncSession, endpoint: WebhookEndpoint, *, now: datetime) -> None:
    """The admin fixed the receiver: send again at once, in order, from where it stopped.
    Undelivered deliveries start a fresh schedule (their old one may be a day away), and
    those given up while the endpoint was failing are queued again."""
    undelivered = WebhookDelivery.state == WebhookDeliveryState.PENDING
    if endpoint.failing_since is not None:
        undelivered = or_(
            undelivered,
            and_(
                WebhookDelivery.state == WebhookDeliveryState.FAILED,
                WebhookDelivery.updated_at >= endpoint.failing_since,
                # Given up by a candidate's erasure: its data is redacted, and
                # `candidate.deleted` supersedes it.
                or_(
                    WebhookDelivery.last_error.is_(None),
                    WebhookDelivery.last_error != ERASED_TEXT,
                ),
            ),
        )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, undelivered)
        .values(state=WebhookDeliveryState.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    endpoint.enabled = True
    endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None


async def delete_endpoint(
    session: AsyncSession, endpoint_id: int, *, actor: str, now: datetime
) -> None:
    """Remove the endpoint with its deliveries and attempts (the events stay for others)."""
    endpoint = await get_endpoint(session, endpoint_id)
    before = _fields(endpoint)
    await session.delete(endpoint)
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.WEBHOOK_ENDPOINT_DELETED,
        object_type="webhook_endpoint",
        object_id=endpoint_id,
        before=before,
        at=now,
    )
    log.info("webhooks.endpoint_deleted", endpoint_id=endpoint_id, actor=actor)


async def rotate_secret(
    session: AsyncSession,
    endpoint_id: int,
    policy: WebhookPolicy,
    *,
    actor: str,
    now: datetime,
) -> WebhookEndpoint:
    """A new secret; the current one keeps signing beside it for the grace period."""
    endpoint = await get_endpoint(session, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + policy.secret_grace
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.WEBHOOK_SECRET_ROTATED,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        details={"previous_valid_until": endpoint.previous_secret_expires_at.isoformat()},
        at=now,
    )
    log.info("webhooks.secret_rotated", endpoint_id=endpoint.id, actor=actor)
    return endpoint


def _delivery_out(delivery: WebhookDelivery, event: WebhookEvent) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=event.public_id,
        event_type=event.type.value,
        ordering_key=delivery.ordering_key,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: int,
    *,
    state: WebhookDeliveryState | None = None,
    limit: int,
    before_id: int | None = None,
) -> list[WebhookDeliveryOut]:
    """The endpoint's deliveries, newest first."""
    await get_endpoint(session, endpoint_id)
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return [_delivery_out(d, e) for d, e in (await session.execute(query)).all()]


async def get_delivery(
    session: AsyncSession, endpoint_id: int, delivery_id: int
) -> tuple[WebhookDelivery, WebhookEvent]:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
        )
    ).first()
    if row is None:
        raise WebhookNotFoundError(f"no delivery {delivery_id} of webhook endpoint {endpoint_id}")
    return row[0], row[1]


async def delivery_out(
    session: AsyncSession, endpoint_id: int, delivery_id: int
) -> WebhookDeliveryOut:
    return _delivery_out(*await get_delivery(session, endpoint_id, delivery_id))


async def list_attempts(
    session: AsyncSession,
    endpoint_id: int,
    delivery_id: int,
    *,
    limit: int,
    after_id: int | None = None,
) -> list[WebhookAttempt]:
    await get_delivery(session, endpoint_id, delivery_id)
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(WebhookAttempt.id > after_id)
    return list((await session.scalars(query)).all())


async def replay_delivery(
    session: AsyncSession, endpoint_id: int, delivery_id: int, *, actor: str, now: datetime
) -> WebhookDeliveryOut:
    """Send the delivery again from a fresh retry schedule, with the same `webhook-id`. A
    delivery in flight is refused (`WebhookDeliveryInFlightError`): the state is changed by
    one conditional UPDATE, so a worker claiming it at the same moment is never overwritten."""
    delivery, event = await get_delivery(session, endpoint_id, delivery_id)
    before = delivery.state.value
    replayed = await session.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.state != WebhookDeliveryState.IN_FLIGHT,
        )
        .values(state=WebhookDeliveryState.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    if replayed is None:
        raise WebhookDeliveryInFlightError(
            f"delivery {delivery_id} is being sent right now; replay it once this attempt "
            "is recorded"
        )
    await session.refresh(delivery)
    record(
        session,
        actor=actor,
        action=Action.WEBHOOK_DELIVERY_REPLAYED,
        object_type="webhook_delivery",
        object_id=delivery.id,
        before={"state": before},
        details={"endpoint_id": endpoint_id, "event_id": event.public_id},
        at=now,
    )
    log.info("webhooks.delivery_replayed", delivery_id=delivery.id, actor=actor)
    return _delivery_out(delivery, event)
