"""Outbound webhooks to the ATS: endpoints, the events recorded with the domain changes, and
the outbox of their deliveries with every attempt (see candor/webhooks and
docs/ats-integration.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import JSONType, UTCDateTime, enum_column, utcnow


class WebhookEventType(StrEnum):
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_UNDELIVERABLE = "message.undeliverable"
    CANDIDATE_REPLIED = "candidate.replied"
    CANDIDATE_OPTED_OUT = "candidate.opted_out"
    CANDIDATE_WITHDREW = "candidate.withdrew"
    INTERVIEW_RESCHEDULE_REQUESTED = "interview.reschedule_requested"
    # Self-scheduling (candor.scheduling): a booking confirmed, moved to another slot, cancelled.
    INTERVIEW_BOOKED = "interview.booked"
    INTERVIEW_MOVED = "interview.moved"
    INTERVIEW_CANCELLED = "interview.cancelled"
    CSAT_RECORDED = "csat.recorded"
    HANDOFF_OPENED = "handoff.opened"
    HANDOFF_CLOSED = "handoff.closed"
    # Candor erased the candidate's personal data (candor.privacy): the ATS should too.
    CANDIDATE_DELETED = "candidate.deleted"


class WebhookDeliveryState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt of the retry schedule failed: given up


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where the ATS wants events, which ones, and the secret(s) they are signed with."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Kept in plain text: signing needs it (an HMAC key), like the channel secrets.
    secret: Mapped[str] = mapped_column(String(100))
    # The secret before the last rotation, still signing alongside until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The admin's switch: events are queued only for an enabled endpoint.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when Candor stopped sending after the endpoint failed for too long; events keep
    # queuing and go out in order once an admin enables it again.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failed attempt since the last success (None: the last attempt succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class WebhookEvent(IdMixin, Base):
    """One event, written in the transaction of the domain change it reports."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_fanned_out", "fanned_out", "id"),)

    # The `webhook-id` and the payload's `id`: the same on every retry and every endpoint.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[WebhookEventType] = mapped_column(enum_column(WebhookEventType, "webhook_event"))
    # Events of one key are delivered in order: "application:<id>", else "candidate:<id>".
    ordering_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once the worker has queued a delivery per subscribed endpoint.
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    """One event to one endpoint: the worker's unit of work, retried on a schedule."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "event_id"),
    )

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    ordering_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[WebhookDeliveryState] = mapped_column(
        enum_column(WebhookDeliveryState, "webhook_delivery_state")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(IdMixin, Base):
    """One HTTP attempt of a delivery, as the admin sees it."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
