"""What integrations need: their API tokens and the log of inbound ATS events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base, IdMixin
from candor.db.types import JSONType, UTCDateTime, utcnow


class ApiToken(IdMixin, Base):
    """An integration's bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Set for an HR user's personal token: requests act as that user, within their teams.
    hr_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("hr_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AtsEvent(Base):
    """An accepted ATS event and the answer it got, so a replay returns the same answer."""

    __tablename__ = "ats_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IdempotencyKey(IdMixin, Base):
    """An `Idempotency-Key` an HR client sent with a POST, and the answer it got.

    `in_flight` rows are committed before the work starts so that a concurrent retry sees
    them (409); the answer is written in the same transaction as the work it describes.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    principal: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    in_flight: Mapped[bool] = mapped_column(Boolean, default=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
