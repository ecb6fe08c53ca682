from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from candor.clock import utcnow
from candor.devtools.fake_ats_webhooks import FakeAtsState, create_fake_ats_app
from candor.models.webhooks import WebhookEndpoint, WebhookEvent, WebhookEventType
from candor.runtime import Runtime
from candor.webhooks import events, service
from candor.webhooks.http import WebhookClient
from candor.webhooks.queue import WebhookQueue
from candor.webhooks.schemas import WebhookEndpointIn
from tests.dialogue_world import engine, gateway, nlu_model
from tests.fakes import serving

__all__ = ["engine", "gateway", "nlu_model"]

# The test receiver listens on loopback, which only an on-premise setting admits.
ON_PREMISE = service.WebhookPolicy(allow_private_networks=True, secret_grace=timedelta(hours=24))
IMMEDIATE_RETRIES = (timedelta(0),) * 3  # 4 attempts, each due at once


@dataclass
class Receiver:
    url: str
    state: FakeAtsState


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = FakeAtsState()
    async with serving(create_fake_ats_app(state)) as origin:
        yield Receiver(url=f"{origin}/hooks", state=state)


async def add_endpoint(
    runtime: Runtime,
    receiver: Receiver,
    *,
    types: list[WebhookEventType] | None = None,
    policy: service.WebhookPolicy = ON_PREMISE,
) -> WebhookEndpoint:
    """An endpoint for the receiver, whose secret the receiver then verifies with."""
    async with runtime.transaction() as session:
        endpoint = await service.create_endpoint(
            session,
            WebhookEndpointIn(url=receiver.url, event_types=types or list(WebhookEventType)),
            policy,
            actor="test:admin",
            now=utcnow(),
        )
    receiver.state.secrets.append(endpoint.secret)
    return endpoint


async def record(
    runtime: Runtime,
    ordering_key: str = "application:1",
    event_type: WebhookEventType = WebhookEventType.CANDIDATE_REPLIED,
    **data: Any,
) -> str:
    """One committed event; returns its id."""
    async with runtime.transaction() as session:
        event = events.record_event(
            session, event_type, ordering_key=ordering_key, data=data, now=utcnow()
        )
    return event.public_id


def queue(runtime: Runtime, **options: Any) -> WebhookQueue:
    options.setdefault("retry_delays", IMMEDIATE_RETRIES)
    options.setdefault("client", WebhookClient(timeout=5, allow_private=True))
    return WebhookQueue(runtime, **options)


async def recorded(runtime: Runtime, event_type: WebhookEventType) -> list[dict[str, Any]]:
    """The payloads of the committed events of one type, oldest first."""
    async with runtime.sessionmaker() as session:
        found = await session.scalars(
            select(WebhookEvent.payload)
            .where(WebhookEvent.type == event_type)
            .order_by(WebhookEvent.id)
        )
        return list(found.all())
