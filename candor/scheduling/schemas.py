"""The scheduling API's request and response bodies (HR's side)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from candor.ids import RowId
from candor.models.enums import InterviewKind
from candor.models.scheduling import (
    BUSINESS_ZONE,
    DEFAULT_MOVE_CUTOFF_HOURS,
    Attendance,
    BookingState,
    SchedulingPolicy,
    SlotSource,
)
from candor.scheduling.hr import BookingView, HrChange, ImportReport, SlotView
from candor.scheduling.slots import EARLIEST_YEAR, LATEST_YEAR, MAX_CAPACITY


def _plausible_moment(value: dt.datetime) -> dt.datetime:
    # Far-off years overflow when converted between zones; no interview is held then.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"give a time between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _plausible_day(value: dt.date) -> dt.date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"give a date between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_plausible_moment)]
Day = Annotated[dt.date, AfterValidator(_plausible_day)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Link = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
ZoneName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Interviewers = Annotated[
    list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]],
    Field(max_length=20),
]
Round = Annotated[int, Field(ge=1, le=20)]
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY)]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interview_kind: InterviewKind = Field(description="The round candidates book: phone, onsite…")
    round: Round = 2
    hold_minutes: int = Field(default=10, ge=1, le=1440)
    min_notice_hours: int = Field(default=2, ge=0, le=24 * 60)
    move_cutoff_hours: int = Field(default=DEFAULT_MOVE_CUTOFF_HOURS, ge=0, le=24 * 60)
    max_moves: int = Field(default=2, ge=0, le=20)
    offer_count: int = Field(default=3, ge=1, le=10)
    preparation: str = Field(default="", max_length=2000, description="What to prepare")


class PolicyOut(PolicyIn):
    model_config = ConfigDict(extra="ignore")

    job_id: int

    @classmethod
    def of(cls, policy: SchedulingPolicy) -> PolicyOut:
        return cls(
            job_id=policy.job_id,
            enabled=policy.enabled,
            interview_kind=policy.interview_kind,
            round=policy.round,
            hold_minutes=policy.hold_minutes,
            min_notice_hours=policy.min_notice_hours,
            move_cutoff_hours=policy.move_cutoff_hours,
            max_moves=policy.max_moves,
            offer_count=policy.offer_count,
            preparation=policy.preparation,
        )


class SlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: RowId
    starts_at: Moment = Field(description="With its offset, e.g. 2026-03-12T14:00:00+08:00")
    ends_at: Moment
    capacity: Capacity = Field(default=1, description="Seats: 1 for one-to-one, more for a group")
    location: ShortText | None = None
    video_link: Link | None = Field(default=None, description="An http(s) address")
    interviewers: Interviewers = []
    time_zone: ZoneName = Field(default=BUSINESS_ZONE, description="The interviewers' zone")
    round: Round | None = Field(default=None, description="Default: the job policy's round")
    kind: InterviewKind | None = Field(default=None, description="Default: the policy's kind")


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.time = Field(description="Local time in `time_zone`, e.g. 09:30")
    end: dt.time
    duration_minutes: int = Field(ge=5, le=24 * 60)
    gap_minutes: int = Field(default=0, ge=0, le=24 * 60)
    weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(max_length=7)] = Field(
        default=[0, 1, 2, 3, 4],
        description="0 = Monday … 6 = Sunday; the whole working week also runs on 调休 "
        "make-up working days, and no window runs on a holiday",
    )
    capacity: Capacity = 1
    location: ShortText | None = None
    video_link: Link | None = None
    interviewers: Interviewers = []
    time_zone: ZoneName = BUSINESS_ZONE


class WeeklyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: RowId
    first: Day = Field(description="The first day (YYYY-MM-DD)")
    last: Day = Field(description="The last day, at most a year after the first")
    windows: Annotated[list[WindowIn], Field(min_length=1, max_length=20)]
    round: Round | None = None
    kind: InterviewKind | None = None


class BookingOut(BaseModel):
    id: str = Field(description="The booking's public id")
    state: BookingState
    seat: int
    application_code: str
    candidate_name: str
    booked_by: str
    attendance: Attendance | None

    @classmethod
    def of(cls, view: BookingView) -> BookingOut:
        b = view.booking
        return cls(
            id=b.public_id,
            state=b.state,
            seat=b.seat,
            application_code=view.application_code,
            candidate_name=view.candidate_name,
            booked_by=b.booked_by,
            attendance=b.attendance,
        )


class SlotOut(BaseModel):
    id: int
    job_id: int
    job_title: str
    team_id: int
    round: int
    kind: InterviewKind
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str
    capacity: int
    seats_left: int
    location: str | None
    video_link: str | None
    interviewers: list[str]
    source: SlotSource
    cancelled: bool
    bookings: list[BookingOut]

    @classmethod
    def of(cls, view: SlotView) -> SlotOut:
        slot = view.slot
        return cls(
            id=slot.id,
            job_id=slot.job_id,
            job_title=view.job.title,
            team_id=view.job.team_id,
            round=slot.round,
            kind=slot.kind,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            time_zone=slot.time_zone,
            capacity=slot.capacity,
            seats_left=view.seats_left,
            location=slot.location,
            video_link=slot.video_link,
            interviewers=list(slot.interviewers),
            source=slot.source,
            cancelled=slot.cancelled_at is not None,
            bookings=[BookingOut.of(b) for b in view.bookings],
        )


class SlotsCreatedOut(BaseModel):
    count: int
    slot_ids: list[int]


class ImportOut(BaseModel):
    added: int
    updated: int
    skipped: list[str] = Field(description="Events not imported, each with why")

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(added=report.added, updated=report.updated, skipped=report.skipped)


class HrBookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="e.g. AP-2026-000123")
    slot_id: RowId


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_id: RowId


class HrCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attendance: Attendance


class ChangeOut(BaseModel):
    booking_id: str
    state: BookingState
    slot_id: int
    change: str | None = Field(description="booked, moved or cancelled; null: nothing changed")
    candidate_told_by: str | None = Field(
        description="The channel the candidate was told on; null when nothing was sent (no "
        "change, no reachable channel, or the candidate opted out)"
    )

    @classmethod
    def of(cls, change: HrChange) -> ChangeOut:
        channel = change.told.channel if change.told is not None else None
        return cls(
            booking_id=change.booking.public_id,
            state=change.booking.state,
            slot_id=change.booking.slot_id,
            change=change.change.value if change.change is not None else None,
            candidate_told_by=channel.value if channel is not None else None,
        )


class AttendanceOut(BaseModel):
    booking_id: str
    attendance: Attendance | None
