"""Candidates' rights over their personal data (PIPL): the privacy notice each was shown,
and the copies of their data they asked for (single-use download links)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base, IdMixin
from candor.db.types import BigIntId, JSONType, UTCDateTime, enum_column
from candor.models.enums import Channel, Locale


class PrivacyNoticeShown(Base):
    """One version of the privacy notice, shown to one candidate once: when, on which
    channel and in which language. A new version is a new row."""

    __tablename__ = "privacy_notices_shown"
    __table_args__ = (UniqueConstraint("candidate_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "notice_channel"))
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "notice_locale"))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DataExport(IdMixin, Base):
    """A copy of a candidate's data they asked for in chat, behind a single-use link that
    expires. Only the token's SHA-256 is kept; the copy itself is dropped once downloaded
    or expired (the worker's `prune_data_exports`), the row stays as the record."""

    __tablename__ = "data_exports"
    __table_args__ = (Index("ix_data_exports_expires_at", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
