"""HR's availability: slots entered one by one, generated from weekly windows on China's
working days, or imported from an iCalendar (ICS) file; and withdrawing a slot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.auth.principals import HRPrincipal
from candor.models import Job
from candor.models.enums import InterviewKind
from candor.models.scheduling import (
    BUSINESS_ZONE,
    LIVE_STATES,
    InterviewBooking,
    InterviewSlot,
    SlotSource,
)
from candor.scheduling.errors import ChangeNotAllowedError, InvalidSlotError, SlotNotFoundError
from candor.scheduling.service import check_scope
from candor.sla.calendar import DayKind, WorkingCalendar

MAX_SLOTS_PER_CALL = 2000
MAX_CAPACITY = 500
# Times outside these years are typing or file errors, and far ones overflow zone arithmetic.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
WORKING_WEEK = frozenset(range(5))  # Monday to Friday


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidSlotError(f"unknown time zone {name!r}", code="invalid_time_zone") from error


@dataclass(frozen=True, slots=True)
class SlotSpec:
    starts_at: datetime  # aware
    ends_at: datetime
    capacity: int = 1
    location: str | None = None
    video_link: str | None = None
    interviewers: tuple[str, ...] = ()
    time_zone: str = BUSINESS_ZONE
    external_uid: str | None = None


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Interviews back to back from `start` to `end` (local times in `time_zone`) on the
    given weekdays (0 = Monday). A window over the whole working week also runs on China's
    make-up working days (调休), and no window runs on a statutory holiday."""

    start: time
    end: time
    duration_minutes: int
    weekdays: frozenset[int] = WORKING_WEEK
    capacity: int = 1
    gap_minutes: int = 0
    location: str | None = None
    video_link: str | None = None
    interviewers: tuple[str, ...] = field(default_factory=tuple)
    time_zone: str = BUSINESS_ZONE


def weekly_specs(
    calendar: WorkingCalendar, windows: Sequence[WeeklyWindow], first: date, last: date
) -> list[SlotSpec]:
    """The slots the windows make from `first` to `last` (inclusive)."""
    if last < first:
        raise InvalidSlotError("the last day comes before the first")
    if (last - first).days > 366:
        raise InvalidSlotError("generate at most a year of slots at a time")
    specs: list[SlotSpec] = []
    for window in windows:
        tz = zone(window.time_zone)
        if window.duration_minutes < 5 or window.duration_minutes > 24 * 60:
            raise InvalidSlotError("an interview lasts 5 minutes to 24 hours")
        if window.end <= window.start:
            raise InvalidSlotError("a window ends after it starts")
        if not window.weekdays or not window.weekdays <= frozenset(range(7)):
            raise InvalidSlotError("weekdays are 0 (Monday) to 6 (Sunday)")
        step = timedelta(minutes=window.duration_minutes + window.gap_minutes)
        length = timedelta(minutes=window.duration_minutes)
        day = first
        while day <= last:
            info = calendar.day(day)
            runs = info.kind is not DayKind.HOLIDAY and (
                day.weekday() in window.weekdays
                or (info.kind is DayKind.MAKEUP_WORKDAY and window.weekdays >= WORKING_WEEK)
            )
            if runs:
                moment = datetime.combine(day, window.start, tz)
                window_end = datetime.combine(day, window.end, tz)
                while moment + length <= window_end:
                    specs.append(
                        SlotSpec(
                            starts_at=moment,
                            ends_at=moment + length,
                            capacity=window.capacity,
                            location=window.location,
                            video_link=window.video_link,
                            interviewers=window.interviewers,
                            time_zone=window.time_zone,
                        )
                    )
                    moment += step
            day += timedelta(days=1)
    return specs


def _check(spec: SlotSpec, now: datetime) -> None:
    if spec.starts_at.tzinfo is None or spec.ends_at.tzinfo is None:
        raise InvalidSlotError("give times with their zone")
    if spec.ends_at <= spec.starts_at:
        raise InvalidSlotError("a slot ends after it starts")
    if spec.starts_at <= now:
        raise InvalidSlotError("a slot starts in the future", code="slot_in_past")
    if not 1 <= spec.capacity <= MAX_CAPACITY:
        raise InvalidSlotError(f"capacity is 1 to {MAX_CAPACITY}")
    if spec.video_link is not None and not spec.video_link.startswith(("https://", "http://")):
        raise InvalidSlotError("a video link is an http(s) address")
    zone(spec.time_zone)


async def add_slots(
    session: AsyncSession,
    principal: HRPrincipal,
    job_id: int,
    specs: Iterable[SlotSpec],
    *,
    round: int,
    kind: InterviewKind,
    source: SlotSource,
    now: datetime,
) -> list[InterviewSlot]:
    """Add the slots (all or none); an ICS slot seen before (same UID) is updated instead."""
    job = await session.get(Job, job_id)
    if job is None:
        raise SlotNotFoundError(f"no job {job_id}", code="job_not_found")
    check_scope(principal, job)
    specs = list(specs)
    if not specs:
        raise InvalidSlotError("no slots to add", code="no_slots")
    if len(specs) > MAX_SLOTS_PER_CALL:
        raise InvalidSlotError(f"add at most {MAX_SLOTS_PER_CALL} slots at a time")
    for spec in specs:
        _check(spec, now)
    uids = [spec.external_uid for spec in specs if spec.external_uid is not None]
    if len(set(uids)) != len(uids):
        raise InvalidSlotError("two slots of the batch have the same UID", code="duplicate_uid")
    known = {
        slot.external_uid: slot
        for slot in await session.scalars(
            select(InterviewSlot).where(
                InterviewSlot.job_id == job_id,
                InterviewSlot.external_uid.in_(
                    [s.external_uid for s in specs if s.external_uid is not None]
                ),
            )
        )
    }
    slots: list[InterviewSlot] = []
    for spec in specs:
        slot = known.get(spec.external_uid) if spec.external_uid is not None else None
        if slot is None:
            slot = InterviewSlot(job_id=job_id, source=source, created_by=principal.actor)
            session.add(slot)
        slot.round = round
        slot.kind = kind
        slot.starts_at = spec.starts_at
        slot.ends_at = spec.ends_at
        slot.capacity = spec.capacity
        slot.location = spec.location
        slot.video_link = spec.video_link
        slot.interviewers = list(spec.interviewers)
        slot.time_zone = spec.time_zone
        slot.external_uid = spec.external_uid
        slots.append(slot)
    await session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.SCHEDULING_SLOTS_CREATED,
        object_type="job",
        object_id=job_id,
        team_id=job.team_id,
        details={"source": source.value, "count": len(slots), "round": round},
        at=now,
    )
    return slots


async def cancel_slot(
    session: AsyncSession, principal: HRPrincipal, slot_id: int, *, now: datetime
) -> InterviewSlot:
    """Withdraw a slot nobody holds or booked; a booked one is moved or cancelled first, so
    no candidate loses an interview without being told."""
    # Locked as a hold locks it, so a hold racing the withdrawal is either seen or refused.
    slot = await session.scalar(
        select(InterviewSlot)
        .where(InterviewSlot.id == slot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if slot is None:
        raise SlotNotFoundError("no such slot")
    job = await session.get_one(Job, slot.job_id)
    check_scope(principal, job)
    live = await session.scalar(
        select(InterviewBooking.id)
        .where(InterviewBooking.slot_id == slot.id, InterviewBooking.state.in_(LIVE_STATES))
        .limit(1)
    )
    if live is not None:
        raise ChangeNotAllowedError("move or cancel the slot's bookings first")
    slot.cancelled_at = now
    await session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.SCHEDULING_SLOT_CANCELLED,
        object_type="slot",
        object_id=slot.id,
        team_id=job.team_id,
        at=now,
    )
    return slot
