"""KPI facts: one narrow row per record a KPI counts, kept at write time.

Every table here is derived: the database rebuilds a row from its view
(`v_kpi_<name>_facts`, migration 0009) whenever a row it depends on is written, in the same
transaction, and `candor kpis rebuild` recomputes them all. Nothing writes them directly.
Each carries the application's job, so a 90-day report reads a range of one index instead
of joining and probing the base tables row by row. Definitions: docs/kpis.md.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base

FactId = BigInteger().with_variant(Integer(), "sqlite")

# Days are local (Asia/Shanghai) calendar days, as the KPI filters and weeks are: a report
# reads a range of days without converting a time zone per row.


class InterviewFacts(Base):
    """A completed interview: the day, and the days its first result went out and was due."""

    __tablename__ = "kpi_interview_facts"
    __table_args__ = (
        Index("ix_kpi_interview_facts_completed", "completed_on", "job_id", "sent_on", "due_on"),
        Index("ix_kpi_interview_facts_application", "application_id"),
    )

    interview_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    application_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    completed_on: Mapped[date] = mapped_column(Date)
    sent_on: Mapped[date | None] = mapped_column(Date)  # the first sending of a result
    due_on: Mapped[date | None] = mapped_column(Date)  # the earliest promised day stated


class ApplicationFacts(Base):
    """An application: the funnel's steps it reached."""

    __tablename__ = "kpi_application_facts"
    __table_args__ = (
        Index(
            "ix_kpi_application_facts_applied",
            "applied_on",
            "job_id",
            "stage",
            "ai_interview_done",
            "result_sent",
        ),
    )

    application_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    applied_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(32))
    ai_interview_done: Mapped[bool] = mapped_column(Boolean)
    result_sent: Mapped[bool] = mapped_column(Boolean)


class ReplyFacts(Base):
    """A sent result message, and whether its candidate wrote back in the reply window."""

    __tablename__ = "kpi_reply_facts"
    __table_args__ = (
        Index("ix_kpi_reply_facts_sent", "sent_on", "job_id", "replied"),
        Index("ix_kpi_reply_facts_candidate", "candidate_id"),
        Index("ix_kpi_reply_facts_application", "application_id"),
    )

    message_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    application_id: Mapped[int] = mapped_column(FactId)
    candidate_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    sent_on: Mapped[date] = mapped_column(Date)
    replied: Mapped[bool] = mapped_column(Boolean)


class ConversationFacts(Base):
    """A bound conversation, the job of the application it concerns (`candor.chat.teams`),
    and whether a person was needed."""

    __tablename__ = "kpi_conversation_facts"
    __table_args__ = (
        Index("ix_kpi_conversation_facts_started", "started_on", "job_id", "escalated"),
        Index("ix_kpi_conversation_facts_candidate", "candidate_id"),
    )

    conversation_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int] = mapped_column(FactId)
    application_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    started_on: Mapped[date] = mapped_column(Date)
    escalated: Mapped[bool] = mapped_column(Boolean)


class HandoffFacts(Base):
    """A hand-off, its application's job, and how long until a person first replied."""

    __tablename__ = "kpi_handoff_facts"
    __table_args__ = (
        Index("ix_kpi_handoff_facts_opened", "opened_on", "job_id", "response_us"),
        Index("ix_kpi_handoff_facts_conversation", "conversation_id"),
        Index("ix_kpi_handoff_facts_candidate", "candidate_id"),
    )

    handoff_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(FactId)
    candidate_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    opened_on: Mapped[date] = mapped_column(Date)
    response_us: Mapped[int | None] = mapped_column(BigInteger)  # None: not answered


class ApprovalFacts(Base):
    """A result message a person decided, and how long the decision took."""

    __tablename__ = "kpi_approval_facts"
    __table_args__ = (
        Index("ix_kpi_approval_facts_decided", "decided_on", "job_id", "latency_us"),
        Index("ix_kpi_approval_facts_application", "application_id"),
    )

    message_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    application_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    decided_on: Mapped[date] = mapped_column(Date)
    latency_us: Mapped[int] = mapped_column(BigInteger)


class CsatFacts(Base):
    """A satisfaction question, its answer, and the days of the interview it is about."""

    __tablename__ = "kpi_csat_facts"
    __table_args__ = (
        Index(  # covering: a report reads the index only
            "ix_kpi_csat_facts_asked",
            "asked_on",
            "job_id",
            "outcome",
            "completed_on",
            "sent_on",
            "due_on",
            "rating",
        ),
        Index("ix_kpi_csat_facts_application", "application_id"),
        Index("ix_kpi_csat_facts_interview", "interview_id"),
        Index("ix_kpi_csat_facts_message", "message_id"),
    )

    csat_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(FactId)
    interview_id: Mapped[int | None] = mapped_column(FactId)
    application_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    outcome: Mapped[str] = mapped_column(String(32))
    asked_on: Mapped[date] = mapped_column(Date)
    rating: Mapped[int | None] = mapped_column(Integer)
    completed_on: Mapped[date | None] = mapped_column(Date)
    sent_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)


class DeliveryFacts(Base):
    """A delivery on one channel, with its application's job."""

    __tablename__ = "kpi_delivery_facts"
    __table_args__ = (
        Index("ix_kpi_delivery_facts_created", "created_on", "job_id", "channel", "state"),
        Index("ix_kpi_delivery_facts_application", "application_id"),
    )

    outbox_id: Mapped[int] = mapped_column(FactId, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(FactId)
    application_id: Mapped[int] = mapped_column(FactId)
    job_id: Mapped[int] = mapped_column(FactId)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    created_on: Mapped[date] = mapped_column(Date)
