"""The self-scheduling KPIs (issue 14), read from the scheduling tables themselves.

Invitations and bookings are few next to messages and chats, and an erasure keeps them
(anonymous), so they need no facts table: each figure is one query narrowed to the
principal's jobs and the range's local days. Definitions: docs/kpis.md.
- time to booking: from the invitation (the advance result queued) to its first confirmed
  booking, for invitations first booked in the range; median and p90, in hours;
- self-service share: of those, the ones the candidate booked (not HR);
- reschedules: bookings moved to another time in the range (by day of the move);
- no-shows: of the booked interviews that started in the range and whose attendance HR
  recorded, those recorded as no-show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from candor.auth.principals import HRPrincipal
from candor.kpis.filters import KpiFilter, jobs_in_scope
from candor.models.scheduling import (
    Attendance,
    BookingState,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
)
from candor.scheduling.service import CANDIDATE


@dataclass(frozen=True, slots=True)
class SchedulingFigures:
    invitations: int  # invitations opened in the range
    booked: int  # invitations first booked in the range
    time_to_booking_median_hours: float | None
    time_to_booking_p90_hours: float | None
    booked_by_candidate: int
    self_service_share: float | None  # booked_by_candidate / booked
    reschedules: int  # bookings moved in the range
    reschedules_by_candidate: int
    attendance_recorded: int  # booked interviews that started in the range, attendance known
    no_shows: int
    no_show_rate: float | None  # no_shows / attendance_recorded


def _nearest_rank(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _in_range(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    filters: KpiFilter,
) -> list[ColumnElement[bool]]:
    """An instant within the range's local days."""
    return [column >= filters.start_utc, column < filters.end_utc]


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


async def scheduling_figures(
    session: AsyncSession, principal: HRPrincipal, filters: KpiFilter
) -> SchedulingFigures:
    jobs = jobs_in_scope(principal, filters)
    invitation_scope = [] if jobs is None else [SchedulingInvitation.job_id.in_(jobs)]

    invited = await session.scalar(
        select(func.count())
        .select_from(SchedulingInvitation)
        .where(*invitation_scope, *_in_range(SchedulingInvitation.invited_at, filters))
    )
    first_bookings = (
        await session.execute(
            select(
                SchedulingInvitation.invited_at,
                SchedulingInvitation.first_booked_at,
                SchedulingInvitation.booked_by_candidate,
            ).where(
                *invitation_scope,
                SchedulingInvitation.first_booked_at.is_not(None),
                *_in_range(SchedulingInvitation.first_booked_at, filters),
            )
        )
    ).all()
    # No wait when HR booked someone never invited: the invitation opened at that very
    # moment (`hr_book`), and its 0 hours would pull the median down without measuring.
    waits = [
        _hours(invited_at, booked_at)
        for invited_at, booked_at, candidate in first_bookings
        if booked_at is not None and (candidate or booked_at != invited_at)
    ]
    by_candidate = sum(1 for *_, candidate in first_bookings if candidate)

    bookings = select(InterviewBooking).join(
        SchedulingInvitation, SchedulingInvitation.id == InterviewBooking.invitation_id
    )
    moves = (
        await session.execute(
            bookings.with_only_columns(InterviewBooking.ended_by, func.count())
            .where(
                *invitation_scope,
                InterviewBooking.state == BookingState.MOVED,
                *_in_range(InterviewBooking.ended_at, filters),
            )
            .group_by(InterviewBooking.ended_by)
        )
    ).all()
    attendance = (
        await session.execute(
            bookings.join(InterviewSlot, InterviewSlot.id == InterviewBooking.slot_id)
            .with_only_columns(InterviewBooking.attendance, func.count())
            .where(
                *invitation_scope,
                InterviewBooking.state == BookingState.CONFIRMED,
                InterviewBooking.attendance.is_not(None),
                *_in_range(InterviewSlot.starts_at, filters),
            )
            .group_by(InterviewBooking.attendance)
        )
    ).all()
    recorded = sum(int(count) for _, count in attendance)
    no_shows = sum(int(count) for kind, count in attendance if kind == Attendance.NO_SHOW)
    return SchedulingFigures(
        invitations=int(invited or 0),
        booked=len(first_bookings),
        time_to_booking_median_hours=_nearest_rank(waits, 0.5),
        time_to_booking_p90_hours=_nearest_rank(waits, 0.9),
        booked_by_candidate=by_candidate,
        self_service_share=_rate(by_candidate, len(first_bookings)),
        reschedules=sum(int(count) for _, count in moves),
        reschedules_by_candidate=sum(int(count) for by, count in moves if by == CANDIDATE),
        attendance_recorded=recorded,
        no_shows=no_shows,
        no_show_rate=_rate(no_shows, recorded),
    )
