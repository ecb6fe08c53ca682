"""Interview self-scheduling: HR's slots, the invitation an advance result opens, and the
candidates' bookings of seats in those slots.

A slot has `capacity` seats. A booking takes one seat, numbered 1..capacity, first as a
short hold and then confirmed. Two partial unique indexes make double booking impossible
whatever the processes race: a seat of a slot is live in at most one booking, and an
invitation has at most one live hold and one confirmed booking (the pair exists only while
a candidate moves: the new time is held before the old one is let go).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import JSONType, UTCDateTime, enum_column, utcnow
from candor.models.ats import Application, Interview, Job
from candor.models.enums import InterviewKind

BUSINESS_ZONE = "Asia/Shanghai"
# Until 12 hours before, a candidate moves or cancels themselves by default: a reply to the
# 24-hour reminder still can, a reply to the 2-hour one goes to HR.
DEFAULT_MOVE_CUTOFF_HOURS = 12


class SlotSource(StrEnum):
    MANUAL = "manual"  # entered one by one
    WEEKLY = "weekly"  # generated from recurring weekly windows
    ICS = "ics"  # imported from an iCalendar file


class InvitationState(StrEnum):
    OPEN = "open"  # the candidate may pick a time
    BOOKED = "booked"  # a confirmed booking stands
    CLOSED = "closed"  # cancelled, withdrawn or superseded: no more self-service


class BookingState(StrEnum):
    HELD = "held"  # the seat is kept for the candidate until `held_until`
    CONFIRMED = "confirmed"
    RELEASED = "released"  # a hold that lapsed or was given up
    MOVED = "moved"  # replaced by a booking of another slot (`moved_to_id`)
    CANCELLED = "cancelled"


class Attendance(StrEnum):
    ATTENDED = "attended"
    NO_SHOW = "no_show"


LIVE_STATES = (BookingState.HELD, BookingState.CONFIRMED)
_LIVE_SQL = "state IN ('held', 'confirmed')"
_HELD_SQL = "state = 'held'"
_CONFIRMED_SQL = "state = 'confirmed'"


class SchedulingPolicy(TimestampMixin, Base):
    """How candidates of one job book their next interview themselves."""

    __tablename__ = "scheduling_policies"
    __table_args__ = (
        CheckConstraint("hold_minutes BETWEEN 1 AND 1440", name="hold_minutes"),
        CheckConstraint("min_notice_hours >= 0", name="min_notice_hours"),
        CheckConstraint("move_cutoff_hours >= 0", name="move_cutoff_hours"),
        CheckConstraint("max_moves >= 0", name="max_moves"),
        CheckConstraint("offer_count BETWEEN 1 AND 10", name="offer_count"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The round candidates who advance are invited to book.
    interview_kind: Mapped[InterviewKind] = mapped_column(
        enum_column(InterviewKind, "policy_interview_kind")
    )
    round: Mapped[int] = mapped_column(Integer, default=2)
    hold_minutes: Mapped[int] = mapped_column(Integer, default=10)
    # No slot starting sooner than this is offered or bookable: interviewers need notice.
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=2)
    # How late before the interview a candidate may still move or cancel it themselves, and
    # how many times they may move it; past either, the request goes to HR.
    move_cutoff_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_MOVE_CUTOFF_HOURS)
    max_moves: Mapped[int] = mapped_column(Integer, default=2)
    offer_count: Mapped[int] = mapped_column(Integer, default=3)
    preparation: Mapped[str] = mapped_column(Text, default="")  # what to prepare

    job: Mapped[Job] = relationship()


class InterviewSlot(IdMixin, TimestampMixin, Base):
    __tablename__ = "interview_slots"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # Re-importing the same ICS feed updates its slots instead of duplicating them.
        UniqueConstraint("job_id", "external_uid"),
        Index("ix_interview_slots_job_id_starts_at", "job_id", "starts_at"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    kind: Mapped[InterviewKind] = mapped_column(enum_column(InterviewKind, "slot_interview_kind"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    location: Mapped[str | None] = mapped_column(String(300))
    video_link: Mapped[str | None] = mapped_column(String(1000))
    interviewers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The interviewers' zone: the console shows the slot in it.
    time_zone: Mapped[str] = mapped_column(String(64), default=BUSINESS_ZONE)
    source: Mapped[SlotSource] = mapped_column(enum_column(SlotSource, "slot_source"))
    external_uid: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    job: Mapped[Job] = relationship()


class SchedulingInvitation(IdMixin, TimestampMixin, Base):
    """An application's invitation to book one round: opened by an advance result."""

    __tablename__ = "scheduling_invitations"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    kind: Mapped[InterviewKind] = mapped_column(
        enum_column(InterviewKind, "invitation_interview_kind")
    )
    state: Mapped[InvitationState] = mapped_column(enum_column(InvitationState, "invitation_state"))
    # The capability a booking link carries (e-mail, SMS, WeChat): not guessable, not an id.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether the booking that stands was made by the candidate (self-service) or by HR.
    booked_by_candidate: Mapped[bool | None] = mapped_column(Boolean)
    moves: Mapped[int] = mapped_column(Integer, default=0)
    outreach_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="SET NULL")
    )
    # The interview row the booking writes into Candor's ATS data (progress answers read it).
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship()
    job: Mapped[Job] = relationship()
    interview: Mapped[Interview | None] = relationship()


class InterviewBooking(IdMixin, TimestampMixin, Base):
    __tablename__ = "interview_bookings"
    __table_args__ = (
        CheckConstraint("seat >= 1", name="seat"),
        # The guarantee: a seat is live in one booking at most.
        Index(
            "uq_interview_bookings_live_seat",
            "slot_id",
            "seat",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        Index(
            "uq_interview_bookings_held_invitation",
            "invitation_id",
            unique=True,
            sqlite_where=text(_HELD_SQL),
            postgresql_where=text(_HELD_SQL),
        ),
        Index(
            "uq_interview_bookings_confirmed_invitation",
            "invitation_id",
            unique=True,
            sqlite_where=text(_CONFIRMED_SQL),
            postgresql_where=text(_CONFIRMED_SQL),
        ),
    )

    # What buttons and links carry: a booking is never named by its row id outside Candor.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("scheduling_invitations.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int] = mapped_column(ForeignKey("interview_slots.id"), index=True)
    seat: Mapped[int] = mapped_column(Integer)
    state: Mapped[BookingState] = mapped_column(enum_column(BookingState, "booking_state"))
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booked_by: Mapped[str] = mapped_column(String(100))  # "candidate" or "user:<id>"
    ended_by: Mapped[str | None] = mapped_column(String(100))
    moved_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("interview_bookings.id", ondelete="SET NULL")
    )
    reminded_24h_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_2h_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance: Mapped[Attendance | None] = mapped_column(enum_column(Attendance, "attendance"))
    attendance_by: Mapped[str | None] = mapped_column(String(100))
    attendance_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    slot: Mapped[InterviewSlot] = relationship()
    invitation: Mapped[SchedulingInvitation] = relationship()
    application: Mapped[Application] = relationship()
