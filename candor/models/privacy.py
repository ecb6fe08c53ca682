"""Candidates' rights over their personal data (PIPL): the privacy notice each was shown, the
copies of their data they asked for (single-use download links), and requests to have their
personal data erased (Art. 47) with their progress.

The request waits out a cooling-off period (the candidate may cancel) and any legal hold,
then the worker erases it (`candor.privacy.erasure`). `subject` is the erasure's working
set, fixed when it starts (the ids of every row that is the candidate's, and the values to
look for in free text and Redis): it holds personal data only while the request is
`erasing`, and is emptied in the step that marks the request `done`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from candor.crypto.fields import SealedJSON
from candor.db.base import Base, IdMixin
from candor.db.types import BigIntId, JSONType, UTCDateTime, enum_column, utcnow
from candor.models.enums import Channel, Locale


class DeletionState(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # asked in chat, not yet confirmed
    PENDING = "pending"  # confirmed: waits out the cooling-off period and any legal hold
    ERASING = "erasing"  # the worker started: every read path hides the candidate
    DONE = "done"
    CANCELLED = "cancelled"  # by the candidate (or an admin) before erasure began
    EXPIRED = "expired"  # never confirmed in time


OPEN_STATES = (
    DeletionState.AWAITING_CONFIRMATION,
    DeletionState.PENDING,
    DeletionState.ERASING,
)
_OPEN_SQL = "state IN ('awaiting_confirmation', 'pending', 'erasing')"


class DeletionRequest(IdMixin, Base):
    __tablename__ = "deletion_requests"
    __table_args__ = (
        # One open request per candidate, whoever opens it and however many processes race.
        Index(
            "uq_deletion_requests_open_candidate",
            "candidate_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        Index("ix_deletion_requests_state_erase_after", "state", "erase_after"),
    )

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    state: Mapped[DeletionState] = mapped_column(enum_column(DeletionState, "deletion_state"))
    # "candidate" (in chat) or "user:<id>" (an admin in the console or the CLI).
    requested_by: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(32))  # chat, console, cli
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Until when a request asked in chat may be confirmed.
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The end of the cooling-off period: erased at the first worker run after it.
    erase_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold_by: Mapped[str | None] = mapped_column(String(100))
    # An admin's words; emptied when the erasure finishes.
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    closed_by: Mapped[str | None] = mapped_column(String(100))  # who cancelled
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sealed at rest (like the columns it copies identifiers from): it holds them all.
    subject: Mapped[dict[str, Any]] = mapped_column(
        SealedJSON("deletion_requests.subject"), default=dict
    )
    # Rows changed per table so far (numbers only), for the audit row and the docs' figures.
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


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
    # The whole copy (contact details, transcript) until downloaded or expired: sealed.
    content: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON("data_exports.content"))
