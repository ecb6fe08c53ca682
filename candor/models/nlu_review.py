"""The NLU review loop: candidate messages the bot misunderstood, HR's verdict on each, the
models trained on the approved ones, and which model the chat uses (see docs/nlu.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base, IdMixin
from candor.db.types import JSONType, UTCDateTime, enum_column, utcnow


class MisreadReason(StrEnum):
    FALLBACK = "fallback"  # the NLU was unsure and asked a clarifying question
    HANDOFF_AFTER_MISREAD = "handoff_after_misread"  # handed to HR after being misread
    FOLLOWED_BY_COMPLAINT = "followed_by_complaint"  # the candidate complained next


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # a reviewer assigned the right intent: trained on
    NEW_INTENT = "new_intent"  # no intent of domain.yml fits: a taxonomy question
    DISMISSED = "dismissed"


class NluModelState(StrEnum):
    CANDIDATE = "candidate"  # trained and evaluated, waiting for an admin
    ACTIVE = "active"  # accepted: the chat uses it (see ActiveNluModel)
    RETIRED = "retired"  # was active, replaced or reverted
    DISCARDED = "discarded"  # never accepted: discarded, or superseded by a newer candidate


class MisreadMessage(IdMixin, Base):
    """One inbound message the bot misunderstood, queued for review.

    `text` is stored masked (application codes, phones, e-mails, the candidate's name), as
    shown to reviewers and as trained on. `dedupe_key` names the inbound message, so the
    same message is queued once however many reasons it collects.
    """

    __tablename__ = "nlu_review_items"
    __table_args__ = (Index("ix_nlu_review_items_state_received", "state", "received_at"),)

    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    chat_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # What the NLU made of it: its verdict (nlu_fallback or the misread intent) and ranking.
    predicted_intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[ReviewState] = mapped_column(enum_column(ReviewState, "nlu_review_state"))
    intent: Mapped[str | None] = mapped_column(String(64))  # the reviewer's, when approved
    note: Mapped[str | None] = mapped_column(Text)  # the intent wanted, or why dismissed
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NluModelVersion(IdMixin, Base):
    """An embedded NLU model trained on the project's data plus the approved examples, with
    its figures on the blind evaluation sets next to those of the model active when it was
    trained (`baseline_*`). The model itself (`artifact`, the files `NluModel.save` writes,
    zipped) is kept while it is a candidate or active, so every API process can load it."""

    __tablename__ = "nlu_models"

    state: Mapped[NluModelState] = mapped_column(enum_column(NluModelState, "nlu_model_state"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The project's training files (RasaProject.fingerprint) it was trained on.
    base_fingerprint: Mapped[str] = mapped_column(String(64))
    # The blind sets' names and bytes its figures were measured on.
    eval_digest: Mapped[str] = mapped_column(String(64))
    examples: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # None: the project's own model was active (no reviewed model).
    baseline_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("nlu_models.id", ondelete="SET NULL")
    )
    baseline_figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    training_seconds: Mapped[float] = mapped_column(Float)
    trained_by: Mapped[str] = mapped_column(String(100))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ActiveNluModel(Base):
    """Which model the chat uses, for every process: one row (id 1); no row, or no model,
    means the project's own model. Processes read it every few seconds (through a short
    Redis cache) and swap models without a restart."""

    __tablename__ = "nlu_active_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id", ondelete="SET NULL"))
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
