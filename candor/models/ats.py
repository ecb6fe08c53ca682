"""Jobs, applications, their stage history and interviews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.crypto.fields import SealedJSON, SealedText
from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import BigIntId, UTCDateTime, enum_column
from candor.models.candidates import Candidate
from candor.models.enums import (
    ApplicationStatus,
    Decision,
    InterviewKind,
    JobStatus,
    Stage,
)
from candor.models.org import HRUser, Team


class Job(IdMixin, TimestampMixin, Base):
    __tablename__ = "jobs"

    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.OPEN
    )
    # The recruiter who owns this job's candidates: reminders and escalations go to them.
    recruiter_id: Mapped[int | None] = mapped_column(
        ForeignKey("hr_users.id", ondelete="SET NULL"), index=True
    )

    team: Mapped[Team] = relationship()
    recruiter: Mapped[HRUser | None] = relationship()


class Application(IdMixin, TimestampMixin, Base):
    __tablename__ = "applications"

    # Human-facing, quoted by candidates in chat: AP-YYYY-NNNNNN.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage, "stage"), default=Stage.APPLIED)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus, "application_status"), default=ApplicationStatus.ACTIVE
    )
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Bumped on every decided result, so each result has its own identity for outreach.
    result_version: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    candidate: Mapped[Candidate] = relationship()
    job: Mapped[Job] = relationship()
    interviews: Mapped[list[Interview]] = relationship(
        back_populates="application", order_by="Interview.id"
    )
    stage_changes: Mapped[list[StageChange]] = relationship(
        back_populates="application", order_by="StageChange.id"
    )


class StageChange(Base):
    """One move of an application; the funnel is computed from these rows."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[Stage | None] = mapped_column(enum_column(Stage, "from_stage"))
    to_stage: Mapped[Stage] = mapped_column(enum_column(Stage, "to_stage"))
    from_status: Mapped[ApplicationStatus | None] = mapped_column(
        enum_column(ApplicationStatus, "from_status")
    )
    to_status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus, "to_status")
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[str] = mapped_column(String(128))

    application: Mapped[Application] = relationship(back_populates="stage_changes")


class Interview(IdMixin, TimestampMixin, Base):
    __tablename__ = "interviews"

    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[InterviewKind] = mapped_column(enum_column(InterviewKind, "interview_kind"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    score: Mapped[float | None] = mapped_column(Float)
    # The AI interview's report, sealed at rest (candor.crypto).
    report_summary: Mapped[str | None] = mapped_column(SealedText("interviews.report_summary"))
    strengths: Mapped[list[str]] = mapped_column(SealedJSON("interviews.strengths"), default=list)
    improvements: Mapped[list[str]] = mapped_column(
        SealedJSON("interviews.improvements"), default=list
    )
    decision: Mapped[Decision | None] = mapped_column(enum_column(Decision, "decision"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_steps: Mapped[str | None] = mapped_column(SealedText("interviews.next_steps"))

    application: Mapped[Application] = relationship(back_populates="interviews")


class CodeSequence(Base):
    """Per-year counters for application codes; one row per prefix, e.g. `AP-2026`."""

    __tablename__ = "code_sequences"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
