"""What the API and console take and show about webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from candor.models.webhooks import WebhookDeliveryState, WebhookEventType
from candor.webhooks.addresses import MAX_URL_LENGTH

Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, description="http(s) URL")]
Description = Annotated[str, Field(max_length=200)]
EventTypes = Annotated[
    list[WebhookEventType],
    Field(min_length=1, max_length=len(WebhookEventType), description="Events to receive"),
]


def _distinct(types: list[WebhookEventType] | None) -> list[WebhookEventType] | None:
    if types is not None and len(set(types)) != len(types):
        raise ValueError("name each event type once")
    return types


class WebhookEndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    description: Description = ""
    event_types: EventTypes
    enabled: bool = True

    _check_types = field_validator("event_types")(_distinct)


class WebhookEndpointPatch(BaseModel):
    """Only the fields given change. `enabled: true` also lifts an automatic disabling."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None

    _check_types = field_validator("event_types")(_distinct)


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None = Field(
        description="Set when Candor stopped sending after the endpoint failed for too long"
    )
    disabled_reason: str | None
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last success"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs"
    )
    created_by: str
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str | None = Field(
        description="The signing secret (`whsec_...`), shown this once: `null` when the "
        "answer is an idempotent replay (`Idempotent-Replayed: true`); rotate for a new one"
    )


class WebhookDeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str = Field(description="The `webhook-id`: the same on every attempt")
    event_type: str
    ordering_key: str
    state: WebhookDeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class WebhookAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
