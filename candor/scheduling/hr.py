"""HR's side of self-scheduling as the API and the console use it: the calendar of a team's
slots with their bookings, importing an ICS file, and booking, moving or cancelling for a
candidate with the candidate told in the same transaction.

Scope: a user sees the jobs of their teams (admins see all); another team's job, slot,
application or booking answers as if there were none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.models import Application, Candidate, Job, Team
from candor.models.enums import ApplicationStatus, InterviewKind
from candor.models.scheduling import (
    BookingState,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SchedulingPolicy,
    SlotSource,
)
from candor.scheduling import service
from candor.scheduling.errors import (
    BookingNotFoundError,
    InvalidSlotError,
    SlotNotFoundError,
)
from candor.scheduling.ics import booking_ics, parse_feed
from candor.scheduling.notices import Change, Told, candidate_zone, tell_candidate, when
from candor.scheduling.slots import EARLIEST_YEAR, LATEST_YEAR, SlotSpec, add_slots, zone
from candor.settings import Settings

MAX_CALENDAR_SLOTS = 1000


def _sees(principal: HRPrincipal, team_id: int) -> bool:
    return principal.is_admin or team_id in principal.team_ids


async def visible_job(session: AsyncSession, principal: HRPrincipal, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None or not _sees(principal, job.team_id):
        raise SlotNotFoundError("no such job in your teams", code="job_not_found")
    return job


async def visible_jobs(session: AsyncSession, principal: HRPrincipal) -> list[Job]:
    query = select(Job).order_by(Job.title, Job.id)
    if not principal.is_admin:
        query = query.where(Job.team_id.in_(principal.team_ids))
    return list((await session.scalars(query)).all())


async def visible_slot(
    session: AsyncSession, principal: HRPrincipal, slot_id: int
) -> tuple[InterviewSlot, Job]:
    slot = await session.get(InterviewSlot, slot_id)
    job = await session.get(Job, slot.job_id) if slot is not None else None
    if slot is None or job is None or not _sees(principal, job.team_id):
        raise SlotNotFoundError("no such slot in your teams")
    return slot, job


async def visible_application(
    session: AsyncSession, principal: HRPrincipal, code: str
) -> Application:
    application = await session.scalar(
        select(Application).where(Application.code == code.strip().upper()[:16])
    )
    job = await session.get(Job, application.job_id) if application is not None else None
    if application is None or job is None or not _sees(principal, job.team_id):
        raise BookingNotFoundError(
            "no such application in your teams", code="application_not_found"
        )
    return application


async def job_policy(
    session: AsyncSession, principal: HRPrincipal, job_id: int
) -> SchedulingPolicy:
    await visible_job(session, principal, job_id)
    policy = await session.get(SchedulingPolicy, job_id)
    if policy is None:
        raise SlotNotFoundError("this job has no scheduling policy yet", code="policy_not_found")
    return policy


async def slot_round(
    session: AsyncSession, job_id: int, round: int | None, kind: InterviewKind | None
) -> tuple[int, InterviewKind]:
    """The round and kind new slots of the job are for: as given, else the job policy's."""
    policy = await session.get(SchedulingPolicy, job_id)
    if round is not None and kind is not None:
        return round, kind
    if policy is None:
        raise InvalidSlotError(
            "set the job's scheduling policy first, or give the round and kind",
            code="policy_not_found",
        )
    return (round if round is not None else policy.round), (
        kind if kind is not None else policy.interview_kind
    )


# -- The calendar -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookingView:
    booking: InterviewBooking
    application_code: str
    candidate_name: str
    candidate_id: int


@dataclass(frozen=True, slots=True)
class SlotView:
    slot: InterviewSlot
    job: Job
    bookings: list[BookingView]

    @property
    def seats_taken(self) -> int:
        return len(self.bookings)

    @property
    def seats_left(self) -> int:
        return max(self.slot.capacity - len(self.bookings), 0)


async def calendar(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    start: datetime,
    end: datetime,
    team_id: int | None = None,
    job_id: int | None = None,
    include_cancelled: bool = False,
) -> list[SlotView]:
    """The slots starting in [start, end) of the jobs the user sees, soonest first, each
    with its held and confirmed bookings."""
    if end <= start:
        raise InvalidSlotError("the range ends after it starts", code="invalid_range")
    query = (
        select(InterviewSlot, Job)
        .join(Job, Job.id == InterviewSlot.job_id)
        .where(InterviewSlot.starts_at >= start, InterviewSlot.starts_at < end)
        .order_by(InterviewSlot.starts_at, InterviewSlot.id)
        .limit(MAX_CALENDAR_SLOTS)
    )
    if not principal.is_admin:
        query = query.where(Job.team_id.in_(principal.team_ids))
    if team_id is not None:
        query = query.where(Job.team_id == team_id)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    if not include_cancelled:
        query = query.where(InterviewSlot.cancelled_at.is_(None))
    rows = (await session.execute(query)).all()
    return await _views(session, [(slot, job) for slot, job in rows])


async def _views(
    session: AsyncSession, rows: Sequence[tuple[InterviewSlot, Job]]
) -> list[SlotView]:
    bookings = await service.bookings_in(session, [slot.id for slot, _job in rows])
    application_ids = {b.application_id for found in bookings.values() for b in found}
    people: dict[int, tuple[str, str, int]] = {}
    if application_ids:
        for application_id, code, name, candidate_id in await session.execute(
            select(Application.id, Application.code, Candidate.name, Candidate.id)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(Application.id.in_(application_ids))
        ):
            people[application_id] = (code, name, candidate_id)
    return [
        SlotView(
            slot,
            job,
            [
                BookingView(b, *people.get(b.application_id, ("—", "—", 0)))
                for b in bookings.get(slot.id, [])
            ],
        )
        for slot, job in rows
    ]


async def slot_view(session: AsyncSession, principal: HRPrincipal, slot_id: int) -> SlotView:
    """One slot of the user's teams as the calendar shows it (withdrawn or not)."""
    slot, job = await visible_slot(session, principal, slot_id)
    [view] = await _views(session, [(slot, job)])
    return view


async def visible_teams(session: AsyncSession, principal: HRPrincipal) -> list[Team]:
    query = select(Team).order_by(Team.name, Team.id)
    if not principal.is_admin:
        query = query.where(Team.id.in_(principal.team_ids))
    return list((await session.scalars(query)).all())


async def live_seats(
    session: AsyncSession, slot_ids: Sequence[int], *, now: datetime
) -> dict[int, int]:
    """How many seats of each slot a booking occupies now (a lapsed hold gives its seat up)."""
    if not slot_ids:
        return {}
    rows = await session.execute(
        select(InterviewBooking.slot_id, func.count())
        .where(InterviewBooking.slot_id.in_(slot_ids), service.occupies_seat(now))
        .group_by(InterviewBooking.slot_id)
    )
    return {slot_id: int(count) for slot_id, count in rows}


async def free_slots(
    session: AsyncSession, job_id: int, round: int, *, now: datetime, limit: int = 40
) -> list[InterviewSlot]:
    """The job round's slots yet to start with a seat free, soonest first: where HR can book
    or move a candidate."""
    taken = (
        select(InterviewBooking.slot_id, func.count().label("taken"))
        .where(service.occupies_seat(now))
        .group_by(InterviewBooking.slot_id)
        .subquery()
    )
    return list(
        (
            await session.scalars(
                select(InterviewSlot)
                .outerjoin(taken, taken.c.slot_id == InterviewSlot.id)
                .where(
                    InterviewSlot.job_id == job_id,
                    InterviewSlot.round == round,
                    InterviewSlot.cancelled_at.is_(None),
                    InterviewSlot.starts_at > now,
                    InterviewSlot.capacity > func.coalesce(taken.c.taken, 0),
                )
                .order_by(InterviewSlot.starts_at, InterviewSlot.id)
                .limit(limit)
            )
        ).all()
    )


async def bookable_applications(
    session: AsyncSession, job_ids: Sequence[int], *, limit: int = 300
) -> list[tuple[str, str, int]]:
    """(code, candidate name, job id) of the jobs' applications still in the running."""
    if not job_ids:
        return []
    rows = await session.execute(
        select(Application.code, Candidate.name, Application.job_id)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            Application.job_id.in_(job_ids),
            Application.status.in_((ApplicationStatus.ACTIVE, ApplicationStatus.ON_HOLD)),
        )
        .order_by(Application.id.desc())
        .limit(limit)
    )
    return [(code, name, job_id) for code, name, job_id in rows]


# -- Slots from an ICS file ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    updated: int
    skipped: list[str]


async def import_feed(
    session: AsyncSession,
    principal: HRPrincipal,
    job_id: int,
    data: bytes,
    *,
    round: int | None,
    kind: InterviewKind | None,
    capacity: int,
    time_zone: str,
    now: datetime,
) -> ImportReport:
    """Add the file's timed events as slots of the job; an event imported before (same UID)
    is updated. Events that already started are skipped with the others parse_feed skips."""
    await visible_job(session, principal, job_id)
    zone(time_zone)
    if not 1 <= capacity <= 500:
        raise InvalidSlotError("capacity is 1 to 500")
    round, kind = await slot_round(session, job_id, round, kind)
    specs, skipped = parse_feed(data, default_zone=time_zone, capacity=capacity)
    future: list[SlotSpec] = []
    for spec in specs:
        if spec.starts_at <= now:
            skipped.append(f"{spec.external_uid}: in the past")
        elif not EARLIEST_YEAR <= spec.starts_at.year <= LATEST_YEAR:
            skipped.append(f"{spec.external_uid}: not between {EARLIEST_YEAR} and {LATEST_YEAR}")
        else:
            future.append(spec)
    known = {
        slot.external_uid: slot
        for slot in await session.scalars(
            select(InterviewSlot).where(
                InterviewSlot.job_id == job_id,
                InterviewSlot.external_uid.in_([s.external_uid for s in future]),
            )
        )
    }
    live = await live_seats(session, [slot.id for slot in known.values()], now=now)
    for spec in list(future):
        slot = known.get(spec.external_uid)
        if slot is None or not live.get(slot.id):
            continue
        # A booked slot is left as it is: its time changes only through a move or a
        # cancellation, which tell the candidates and the ATS; an import would not.
        future.remove(spec)
        if (
            slot.starts_at != spec.starts_at
            or slot.ends_at != spec.ends_at
            or slot.round != round
            or slot.kind is not kind
            or spec.capacity < live[slot.id]
        ):
            skipped.append(f"{spec.external_uid}: booked; move or cancel its bookings to change it")
    if not future:
        return ImportReport(0, 0, skipped)
    await add_slots(
        session,
        principal,
        job_id,
        future,
        round=round,
        kind=kind,
        source=SlotSource.ICS,
        now=now,
    )
    updated = sum(1 for spec in future if spec.external_uid in known)
    return ImportReport(len(future) - updated, updated, skipped)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- Booking for a candidate --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HrChange:
    booking: InterviewBooking
    change: Change | None  # None: nothing changed (already booked there)
    told: Told | None


async def book(
    session: AsyncSession,
    settings: Settings,
    principal: HRPrincipal,
    application_code: str,
    slot_id: int,
    *,
    now: datetime,
) -> HrChange:
    """Book the application's interview into the slot, or move it there, and tell the
    candidate."""
    application = await visible_application(session, principal, application_code)
    slot, _job = await visible_slot(session, principal, slot_id)
    invitation = await service.invitation_of(session, application.id)
    before = (
        await service.confirmed_booking(session, invitation) if invitation is not None else None
    )
    previous = await session.get(InterviewSlot, before.slot_id) if before is not None else None
    booking = await service.hr_book(session, principal, application.id, slot.id, now=now)
    if before is not None and before.id == booking.id:
        return HrChange(booking, None, None)
    change = Change.MOVED if before is not None else Change.BOOKED
    told = await tell_candidate(
        session, settings, booking, change, actor=principal.actor, now=now, previous=previous
    )
    return HrChange(booking, change, told)


async def move(
    session: AsyncSession,
    settings: Settings,
    principal: HRPrincipal,
    public_id: str,
    slot_id: int,
    *,
    now: datetime,
) -> HrChange:
    """Move a confirmed booking to another slot of the same interview."""
    booking, _invitation, _job = await service.booking_for_hr(session, principal, public_id)
    if booking.state is not BookingState.CONFIRMED:
        raise BookingNotFoundError("that booking is not a confirmed interview")
    application = await session.get_one(Application, booking.application_id)
    return await book(session, settings, principal, application.code, slot_id, now=now)


async def cancel(
    session: AsyncSession,
    settings: Settings,
    principal: HRPrincipal,
    public_id: str,
    *,
    reason: str | None,
    now: datetime,
) -> HrChange:
    booking = await service.hr_cancel(session, principal, public_id, reason=reason, now=now)
    told = await tell_candidate(
        session, settings, booking, Change.CANCELLED, actor=principal.actor, now=now, reason=reason
    )
    return HrChange(booking, Change.CANCELLED, told)


# -- The candidate's calendar file --------------------------------------------------------------


async def calendar_file(session: AsyncSession, public_id: str, *, now: datetime) -> bytes | None:
    """The .ics of a confirmed booking, titled in the candidate's language; None for any
    other booking or id."""
    if not public_id or len(public_id) > 32:
        return None
    booking = await session.scalar(
        select(InterviewBooking).where(
            InterviewBooking.public_id == public_id,
            InterviewBooking.state == BookingState.CONFIRMED,
        )
    )
    if booking is None:
        return None
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    invitation = await session.get_one(SchedulingInvitation, booking.invitation_id)
    application = await session.get_one(Application, booking.application_id)
    candidate = await session.get_one(Candidate, application.candidate_id)
    job = await session.get_one(Job, application.job_id)
    policy = await session.get(SchedulingPolicy, job.id)
    zh = candidate.locale.value == "zh-CN"
    title = f"{job.title} 面试" if zh else f"Interview: {job.title}"
    lines = [when(slot, candidate_zone(candidate), candidate.locale)]
    if policy is not None and policy.preparation:
        lines.append(("请准备：" if zh else "Please prepare: ") + policy.preparation)
    return booking_ics(
        slot,
        booking_id=booking.public_id,
        title=title,
        description="\n".join(lines),
        sequence=invitation.moves,
        now=now,
    )
