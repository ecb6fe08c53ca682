"""The dialogue side: conversation state, hand-offs to HR, HR tasks, satisfaction ratings,
the per-job knowledge base with its HR approval queue, and chat replies waiting to be sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from candor.crypto.fields import BLIND_INDEX_CHARS, SealedText, email_key
from candor.crypto.lookups import index_on_insert, recipient_index
from candor.db.base import Base, IdMixin
from candor.db.types import JSONType, UTCDateTime, enum_column, utcnow
from candor.models.enums import Channel, Locale


class HrTaskKind(StrEnum):
    RESCHEDULE = "reschedule"  # the candidate proposed other interview times
    WITHDRAWAL = "withdrawal"  # the candidate withdrew in chat
    HANDOFF = "handoff"  # the conversation waits for a person


class JobQuestionState(StrEnum):
    PENDING = "pending"  # drafted, waiting for HR
    ANSWERED = "answered"  # HR approved an answer; it is queued for the candidate
    DISMISSED = "dismissed"


class ChatDeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class DialogueState(Base):
    """The embedded engine's memory of one conversation: slots, the active form, the recent
    events (what the rules and the actions' trackers look at), and a version for writers."""

    __tablename__ = "dialogue_states"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    slots: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active_loop: Mapped[str | None] = mapped_column(String(64))
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Handoff(IdMixin, Base):
    """A conversation handed to a person; the bot stays quiet while one is open."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_conversation_closed", "conversation_id", "closed_at"),
        Index("ix_handoffs_opened_at", "opened_at"),  # the KPIs' date range (0009)
    )

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))  # asked, complaint, fallback
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))


class HandoffApplication(Base):
    """The application a hand-off is about (its conversation's when it was opened): the team
    of that application's job answers it. A hand-off without a row (none was known) follows
    its conversation's application."""

    __tablename__ = "handoff_applications"

    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True
    )
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )


class HrTask(IdMixin, Base):
    """Something a recruiter has to do because of a chat: shown to the job's team."""

    __tablename__ = "hr_tasks"

    kind: Mapped[HrTaskKind] = mapped_column(enum_column(HrTaskKind, "hr_task_kind"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(100))


class CsatRating(IdMixin, Base):
    """The one satisfaction question about one delivered result, and its answer."""

    __tablename__ = "csat_ratings"

    outreach_message_id: Mapped[int] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="CASCADE"), unique=True
    )
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobAnswer(IdMixin, Base):
    """An approved answer to one kind of question about a job (or every job: job_id NULL)."""

    __tablename__ = "job_answers"
    __table_args__ = (UniqueConstraint("job_id", "topic", "locale"),)

    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(32))  # salary, location, benefits, overtime, ...
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "job_answer_locale"))
    answer: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobQuestion(IdMixin, Base):
    """A candidate's question the knowledge base could not answer: HR's approval queue."""

    __tablename__ = "job_questions"
    __table_args__ = (Index("ix_job_questions_state_asked", "state", "asked_at"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL")
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    topic: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "job_question_locale"))
    question: Mapped[str] = mapped_column(Text)
    draft: Mapped[str | None] = mapped_column(Text)
    state: Mapped[JobQuestionState] = mapped_column(
        enum_column(JobQuestionState, "job_question_state")
    )
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatDelivery(IdMixin, Base):
    """A message to one candidate outside the result outbox that still has to reach them:
    a chat message written by a person (HR's reply, an approved answer; written with its
    transcript row) or a one-time binding code by e-mail (no transcript row). Written in the
    transaction that decided it, sent by the delivery loop after commit."""

    __tablename__ = "chat_deliveries"
    __table_args__ = (Index("ix_chat_deliveries_due", "state", "next_attempt_at"),)

    chat_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), unique=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "chat_delivery_channel"))
    # A candidate's chat id or e-mail (an admin's e-mail for webhook notices), sealed at rest;
    # found by its blind index when one person's deliveries are cancelled or erased.
    recipient: Mapped[str] = mapped_column(
        SealedText(
            "chat_deliveries.recipient",
            String(128),
            blind_index_column="recipient_index",
            normalise=email_key,
        )
    )
    recipient_index: Mapped[str | None] = mapped_column(
        String(BLIND_INDEX_CHARS), index=True, default=index_on_insert("recipient", recipient_index)
    )
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "chat_delivery_locale"))
    state: Mapped[ChatDeliveryState] = mapped_column(
        enum_column(ChatDeliveryState, "chat_delivery_state")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@event.listens_for(ChatDelivery.recipient, "set")
def _index_recipient(target: ChatDelivery, value: str | None, _old: Any, _initiator: Any) -> None:
    target.recipient_index = recipient_index(value)
