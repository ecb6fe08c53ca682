"""Self-scheduling: invite a candidate who advanced, offer free slots, hold a seat, confirm,
move, cancel; and HR's side of the same (book for a candidate, move, cancel, attendance).

Every function works in the caller's transaction: it flushes, never commits, and sends
nothing (the webhook events it records go out after commit through their own outbox).

The seat guarantee is the database's (`candor.models.scheduling`): a hold inserts a row for
the lowest free seat inside a savepoint, and a unique violation means another transaction
took that seat first, so the next free one is tried. Nothing here counts on reading a
consistent picture of the slot, which is what makes it safe under any number of processes.
Holds of one slot do queue on its row, and changes to one invitation on the invitation's,
but only so that racing candidates wait in turn instead of colliding, and a double click's
second press sees the first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.logging import get_logger
from candor.models import Application, Interview, Job
from candor.models.enums import ApplicationStatus, InterviewKind
from candor.models.scheduling import (
    DEFAULT_MOVE_CUTOFF_HOURS,
    LIVE_STATES,
    Attendance,
    BookingState,
    InterviewBooking,
    InterviewSlot,
    InvitationState,
    SchedulingInvitation,
    SchedulingPolicy,
)
from candor.models.webhooks import WebhookEventType
from candor.scheduling.errors import (
    BookingNotFoundError,
    ChangeNotAllowedError,
    HoldLapsedError,
    NoInvitationError,
    SlotNotFoundError,
    SlotTakenError,
    SlotTooSoonError,
)
from candor.sla.calendar import DayKind, WorkingCalendar
from candor.webhooks import events as webhook_events

log = get_logger(__name__)

CANDIDATE = "candidate"
# An application that ended has nothing to book, whoever asks.
ENDED = frozenset({ApplicationStatus.REJECTED, ApplicationStatus.WITHDRAWN})


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


def interview_external_id(invitation: SchedulingInvitation) -> str:
    """The interview a booking writes into Candor's ATS data: one per invitation, so a move
    reschedules the same interview rather than adding another."""
    return f"candor-booking-{invitation.id}"


# -- Policies ---------------------------------------------------------------------------------


async def set_policy(
    session: AsyncSession,
    job_id: int,
    *,
    interview_kind: InterviewKind,
    round: int = 2,
    enabled: bool = True,
    hold_minutes: int = 10,
    min_notice_hours: int = 2,
    move_cutoff_hours: int = DEFAULT_MOVE_CUTOFF_HOURS,
    max_moves: int = 2,
    offer_count: int = 3,
    preparation: str = "",
    actor: str,
) -> SchedulingPolicy:
    """Create or replace the job's self-scheduling policy."""
    job = await session.get(Job, job_id)
    if job is None:
        raise SlotNotFoundError(f"no job {job_id}", code="job_not_found")
    policy = await session.get(SchedulingPolicy, job_id)
    if policy is None:
        policy = SchedulingPolicy(job_id=job_id)
        session.add(policy)
    policy.enabled = enabled
    policy.interview_kind = interview_kind
    policy.round = round
    policy.hold_minutes = hold_minutes
    policy.min_notice_hours = min_notice_hours
    policy.move_cutoff_hours = move_cutoff_hours
    policy.max_moves = max_moves
    policy.offer_count = offer_count
    policy.preparation = preparation
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action=audit.Action.SCHEDULING_POLICY_SET,
        object_type="job",
        object_id=job_id,
        team_id=job.team_id,
        after={
            "enabled": enabled,
            "interview_kind": interview_kind.value,
            "round": round,
            "hold_minutes": hold_minutes,
            "min_notice_hours": min_notice_hours,
            "move_cutoff_hours": move_cutoff_hours,
            "max_moves": max_moves,
            "offer_count": offer_count,
        },
    )
    return policy


async def policy_of(session: AsyncSession, job_id: int) -> SchedulingPolicy | None:
    """The job's policy when self-scheduling is on for it."""
    policy = await session.get(SchedulingPolicy, job_id)
    return policy if policy is not None and policy.enabled else None


# -- Invitations ------------------------------------------------------------------------------


async def invite(
    session: AsyncSession,
    application: Application,
    *,
    outreach_message_id: int | None,
    now: datetime,
) -> SchedulingInvitation | None:
    """Open (or find) the application's invitation to book its next round; None when the
    job does not schedule itself. Idempotent: a second advance message finds the first."""
    policy = await policy_of(session, application.job_id)
    if policy is None:
        return None
    invitation = await session.scalar(
        select(SchedulingInvitation).where(
            SchedulingInvitation.application_id == application.id,
            SchedulingInvitation.round == policy.round,
        )
    )
    if invitation is not None:
        if invitation.state is InvitationState.CLOSED:
            # Advanced again after a rejection or withdrawal the ATS took back: a new link,
            # since the old one was given up with the application.
            # The new invitation is measured afresh: its wait, who booked, how often moved.
            invitation.state = InvitationState.OPEN
            invitation.closed_at = None
            invitation.token = secrets.token_urlsafe(16)
            invitation.outreach_message_id = outreach_message_id
            invitation.invited_at = now
            invitation.first_booked_at = None
            invitation.booked_by_candidate = None
            invitation.moves = 0
            await session.flush()
        return invitation
    invitation = SchedulingInvitation(
        application_id=application.id,
        job_id=application.job_id,
        round=policy.round,
        kind=policy.interview_kind,
        state=InvitationState.OPEN,
        token=secrets.token_urlsafe(16),
        invited_at=now,
        moves=0,
        outreach_message_id=outreach_message_id,
    )
    try:
        async with session.begin_nested():
            session.add(invitation)
    except IntegrityError:
        # Opened meanwhile by another transaction (two HR bookings at once): use that one.
        found = await session.scalar(
            select(SchedulingInvitation).where(
                SchedulingInvitation.application_id == application.id,
                SchedulingInvitation.round == policy.round,
            )
        )
        if found is None:
            raise
        return found
    log.info("scheduling.invited", application_id=application.id, invitation_id=invitation.id)
    return invitation


async def invitation_of(
    session: AsyncSession, application_id: int, *, for_update: bool = False
) -> SchedulingInvitation | None:
    """The application's latest invitation that is not closed."""
    query = (
        select(SchedulingInvitation)
        .where(
            SchedulingInvitation.application_id == application_id,
            SchedulingInvitation.state != InvitationState.CLOSED,
        )
        .order_by(SchedulingInvitation.round.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def invitation_by_token(session: AsyncSession, token: str) -> SchedulingInvitation | None:
    if not token or len(token) > 64:
        return None
    return await session.scalar(
        select(SchedulingInvitation).where(SchedulingInvitation.token == token)
    )


async def close_invitations(
    session: AsyncSession, application_id: int, *, now: datetime, reason: str | None = None
) -> int:
    """The application ended (withdrawn, rejected later): nothing more to book. Holds are let
    go, and an interview still ahead is cancelled as HR's would be: the ATS hears
    `interview.cancelled` (by "system", with `reason`) and Candor's interview row loses its
    time, so progress answers stop naming it. An interview that has begun stays booked: it
    took place (or was missed), and HR may still record attendance. Returns how many
    invitations closed."""
    # The invitations first, in id order: the lock every booking change takes first, so a
    # candidate's confirm and the ATS's rejection queue instead of deadlocking.
    invitations = (
        await session.scalars(
            select(SchedulingInvitation)
            .where(
                SchedulingInvitation.application_id == application_id,
                SchedulingInvitation.state != InvitationState.CLOSED,
            )
            .order_by(SchedulingInvitation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    for invitation in invitations:
        await session.execute(
            update(InterviewBooking)
            .where(
                InterviewBooking.invitation_id == invitation.id,
                InterviewBooking.state == BookingState.HELD,
            )
            .values(state=BookingState.RELEASED, ended_at=now, ended_by="system")
            .execution_options(synchronize_session="fetch")
        )
        invitation.state = InvitationState.CLOSED
        invitation.closed_at = now
        confirmed = await confirmed_booking(session, invitation)
        if confirmed is None:
            continue
        slot = await session.get_one(InterviewSlot, confirmed.slot_id)
        if slot.starts_at <= now:
            continue
        await _cancel_interview(
            session, invitation, confirmed, slot, by="system", told="system", reason=reason, now=now
        )
    await session.flush()
    return len(invitations)


# -- Offers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    slot: InterviewSlot
    seats_left: int


def occupies_seat(now: datetime) -> ColumnElement[bool]:
    """A booking that occupies its seat now: confirmed, or held and not lapsed."""
    return (InterviewBooking.state == BookingState.CONFIRMED) | (
        (InterviewBooking.state == BookingState.HELD) & (InterviewBooking.held_until >= now)
    )


async def offers(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    calendar: WorkingCalendar,
    *,
    now: datetime,
    after: datetime | None = None,
    limit: int | None = None,
    accept: Callable[[InterviewSlot], bool] | None = None,
    scan: int = 200,
) -> list[Offer]:
    """The soonest free slots of the invitation's round, from `after` on: never one on a
    holiday of China's calendar, sooner than the job's notice, or the candidate's own."""
    policy = await session.get(SchedulingPolicy, invitation.job_id)
    notice = timedelta(hours=policy.min_notice_hours if policy is not None else 0)
    limit = limit if limit is not None else (policy.offer_count if policy is not None else 3)
    earliest = now + notice
    if after is not None and after > earliest:
        earliest = after
    round_slots = select(InterviewSlot.id).where(
        InterviewSlot.job_id == invitation.job_id,
        InterviewSlot.round == invitation.round,
        InterviewSlot.starts_at > earliest,
    )
    taken = (
        select(InterviewBooking.slot_id, func.count().label("taken"))
        .where(occupies_seat(now), InterviewBooking.slot_id.in_(round_slots))
        .group_by(InterviewBooking.slot_id)
        .subquery()
    )
    own = select(InterviewBooking.slot_id).where(
        InterviewBooking.invitation_id == invitation.id,
        InterviewBooking.state == BookingState.CONFIRMED,
    )
    rows = (
        await session.execute(
            select(InterviewSlot, func.coalesce(taken.c.taken, 0))
            .outerjoin(taken, taken.c.slot_id == InterviewSlot.id)
            .where(
                InterviewSlot.job_id == invitation.job_id,
                InterviewSlot.round == invitation.round,
                InterviewSlot.cancelled_at.is_(None),
                InterviewSlot.starts_at > earliest,
                InterviewSlot.id.not_in(own),
                InterviewSlot.capacity > func.coalesce(taken.c.taken, 0),
            )
            .order_by(InterviewSlot.starts_at, InterviewSlot.id)
            .limit(scan)
        )
    ).all()
    found: list[Offer] = []
    for slot, count in rows:
        if calendar.day(slot.starts_at.astimezone(BUSINESS_TZ).date()).kind is DayKind.HOLIDAY:
            continue  # imported or entered before the holiday was known
        if accept is not None and not accept(slot):
            continue
        found.append(Offer(slot, slot.capacity - int(count)))
        if len(found) >= limit:
            break
    return found


# -- Holding and confirming -------------------------------------------------------------------


async def _slot_for(
    session: AsyncSession, invitation: SchedulingInvitation, slot_id: int
) -> InterviewSlot:
    slot = await session.get(InterviewSlot, slot_id)
    if (
        slot is None
        or slot.job_id != invitation.job_id
        or slot.round != invitation.round
        or slot.cancelled_at is not None
    ):
        raise SlotNotFoundError("that time is not one of this interview's slots")
    return slot


async def _check_notice(session: AsyncSession, slot: InterviewSlot, now: datetime) -> None:
    policy = await session.get(SchedulingPolicy, slot.job_id)
    notice = timedelta(hours=policy.min_notice_hours if policy is not None else 0)
    if slot.starts_at <= now + notice:
        raise SlotTooSoonError("that time has passed or is too soon to book")


async def _lock(session: AsyncSession, invitation: SchedulingInvitation) -> None:
    """Changes to one invitation run one at a time: a double click's second press waits for
    the first to commit, then reads what it did (on SQLite the single writer does this)."""
    await session.execute(
        select(SchedulingInvitation)
        .where(SchedulingInvitation.id == invitation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _booking(
    session: AsyncSession, invitation: SchedulingInvitation, public_id: str
) -> InterviewBooking:
    # Locked, so a hold that a competing `hold` is releasing right now is read as it ends
    # (released), never confirmed over the seat it gave away.
    booking = await session.scalar(
        select(InterviewBooking)
        .where(
            InterviewBooking.public_id == public_id,
            InterviewBooking.invitation_id == invitation.id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if booking is None:
        raise BookingNotFoundError("no such booking")
    return booking


async def confirmed_booking(
    session: AsyncSession, invitation: SchedulingInvitation
) -> InterviewBooking | None:
    return await session.scalar(
        select(InterviewBooking).where(
            InterviewBooking.invitation_id == invitation.id,
            InterviewBooking.state == BookingState.CONFIRMED,
        )
    )


async def hold(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    slot_id: int,
    *,
    by: str,
    now: datetime,
    enforce_notice: bool = True,
) -> InterviewBooking:
    """Keep a seat of the slot for the candidate for the job's hold time. Picking again
    gives up the earlier hold; picking the slot already booked returns that booking."""
    await _lock(session, invitation)
    if invitation.state is InvitationState.CLOSED:
        raise NoInvitationError("this invitation is closed")
    slot = await _slot_for(session, invitation, slot_id)
    if enforce_notice:
        await _check_notice(session, slot, now)
    current = await confirmed_booking(session, invitation)
    if current is not None and current.slot_id == slot.id:
        return current
    policy = await session.get(SchedulingPolicy, invitation.job_id)
    hold_for = timedelta(minutes=policy.hold_minutes if policy is not None else 10)
    # Holds of one slot queue on its row rather than all inserting its lowest free seat at
    # once, waiting for the winner's commit and retrying (under 50 candidates that herd
    # made a booking take seconds). The unique index, not this lock, guarantees the seat.
    withdrawn = await session.scalar(
        select(InterviewSlot.cancelled_at).where(InterviewSlot.id == slot.id).with_for_update()
    )
    if withdrawn is not None:  # HR withdrew it while this hold waited for the lock
        raise SlotNotFoundError("that time has been withdrawn")
    # The candidate's earlier hold, and lapsed holds of this slot, give their seats back.
    await session.execute(
        update(InterviewBooking)
        .where(
            InterviewBooking.state == BookingState.HELD,
            (InterviewBooking.invitation_id == invitation.id)
            | ((InterviewBooking.slot_id == slot.id) & (InterviewBooking.held_until < now)),
        )
        .values(state=BookingState.RELEASED, ended_at=now, ended_by="system")
        .execution_options(synchronize_session=False)
    )
    for _ in range(slot.capacity):
        taken = set(
            (
                await session.scalars(
                    select(InterviewBooking.seat).where(
                        InterviewBooking.slot_id == slot.id,
                        InterviewBooking.state.in_(LIVE_STATES),
                    )
                )
            ).all()
        )
        free = [seat for seat in range(1, slot.capacity + 1) if seat not in taken]
        if not free:
            break
        booking = InterviewBooking(
            public_id=new_public_id(),
            invitation_id=invitation.id,
            application_id=invitation.application_id,
            slot_id=slot.id,
            seat=free[0],
            state=BookingState.HELD,
            held_until=now + hold_for,
            booked_by=by,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(booking)
        except IntegrityError:
            continue  # another transaction took that seat between the read and the insert
        log.info("scheduling.held", slot_id=slot.id, seat=booking.seat, booking=booking.id)
        return booking
    raise SlotTakenError("that time has just been taken")


async def confirm(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    public_id: str,
    *,
    by: str,
    now: datetime,
) -> tuple[InterviewBooking, bool]:
    """Turn the hold into the booking. Returns the booking and whether this call confirmed
    it (False: it was already confirmed, e.g. the button pressed twice)."""
    await _lock(session, invitation)
    booking = await _booking(session, invitation, public_id)
    if booking.state is BookingState.CONFIRMED:
        return booking, False
    if booking.state is not BookingState.HELD:
        raise HoldLapsedError("that time is no longer held for you")
    if invitation.state is InvitationState.CLOSED:
        raise NoInvitationError("this invitation is closed")
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    if slot.cancelled_at is not None:
        raise SlotNotFoundError("that time has been withdrawn")
    if slot.starts_at <= now:
        raise SlotTooSoonError("that time has passed")
    # A lapsed hold still stands while nobody took its seat: its row keeps the seat.
    previous = await confirmed_booking(session, invitation)
    if previous is not None:
        previous.state = BookingState.MOVED
        previous.ended_at = now
        previous.ended_by = by
        await session.flush()  # frees the invitation's confirmed place for the new booking
    booking.state = BookingState.CONFIRMED
    booking.confirmed_at = now
    booking.held_until = None
    if previous is not None:
        previous.moved_to_id = booking.id
        invitation.moves += 1
    invitation.state = InvitationState.BOOKED
    if invitation.first_booked_at is None:
        invitation.first_booked_at = now
        invitation.booked_by_candidate = by == CANDIDATE
    interview = await _write_interview(session, invitation, slot)
    await session.flush()
    await webhook_events.record_for_application(
        session,
        WebhookEventType.INTERVIEW_MOVED
        if previous is not None
        else WebhookEventType.INTERVIEW_BOOKED,
        invitation.application_id,
        {
            "interview_external_id": interview.external_id,
            "booking_id": booking.public_id,
            **slot_fields(slot),
            "by": "candidate" if by == CANDIDATE else "hr",
            **(
                {"previous_starts_at": webhook_events.iso_utc(previous_slot.starts_at)}
                if previous is not None
                and (previous_slot := await session.get(InterviewSlot, previous.slot_id))
                is not None
                else {}
            ),
        },
        now=now,
    )
    log.info("scheduling.confirmed", booking=booking.id, moved=previous is not None)
    return booking, True


def slot_fields(slot: InterviewSlot) -> dict[str, object]:
    """What the ATS is told of a slot."""
    return {
        "kind": slot.kind.value,
        "round": slot.round,
        "starts_at": webhook_events.iso_utc(slot.starts_at),
        "ends_at": webhook_events.iso_utc(slot.ends_at),
        "location": slot.location,
        "video_link": slot.video_link,
        "interviewers": list(slot.interviewers),
    }


async def _write_interview(
    session: AsyncSession, invitation: SchedulingInvitation, slot: InterviewSlot | None
) -> Interview:
    """Candor's ATS data carries the booked interview, so progress answers include it."""
    interview = (
        await session.get(Interview, invitation.interview_id)
        if invitation.interview_id is not None
        else None
    )
    if interview is None:
        interview = Interview(
            external_id=interview_external_id(invitation),
            application_id=invitation.application_id,
            kind=invitation.kind,
            round=invitation.round,
        )
        session.add(interview)
        await session.flush()
        invitation.interview_id = interview.id
    interview.scheduled_at = slot.starts_at if slot is not None else None
    return interview


# -- Moving and cancelling --------------------------------------------------------------------


async def check_change_allowed(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    booking: InterviewBooking,
    *,
    moving: bool,
    now: datetime,
) -> None:
    """Whether the candidate may still change the booking themselves (the job's policy)."""
    policy = await session.get(SchedulingPolicy, invitation.job_id)
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    cutoff = timedelta(
        hours=policy.move_cutoff_hours if policy is not None else DEFAULT_MOVE_CUTOFF_HOURS
    )
    if slot.starts_at - now < cutoff:
        raise ChangeNotAllowedError("it is too close to the interview to change it here")
    if moving and invitation.moves >= (policy.max_moves if policy is not None else 0):
        raise ChangeNotAllowedError("this interview has been moved as often as allowed")


async def cancel(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    public_id: str,
    *,
    by: str,
    now: datetime,
    reason: str | None = None,
) -> InterviewBooking:
    """Cancel the confirmed booking (the candidate within the policy, or HR). The invitation
    stays open: the candidate may book another time later."""
    await _lock(session, invitation)
    booking = await _booking(session, invitation, public_id)
    if booking.state is not BookingState.CONFIRMED:
        raise BookingNotFoundError("that booking is not a confirmed interview")
    if by == CANDIDATE:
        await check_change_allowed(session, invitation, booking, moving=False, now=now)
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    invitation.state = InvitationState.OPEN
    await _cancel_interview(
        session,
        invitation,
        booking,
        slot,
        by=by,
        told="candidate" if by == CANDIDATE else "hr",
        reason=reason,
        now=now,
    )
    log.info("scheduling.cancelled", booking=booking.id, by=by)
    return booking


async def _cancel_interview(
    session: AsyncSession,
    invitation: SchedulingInvitation,
    booking: InterviewBooking,
    slot: InterviewSlot,
    *,
    by: str,
    told: str,
    reason: str | None,
    now: datetime,
) -> None:
    """End the confirmed booking: its interview loses its time, the ATS hears
    `interview.cancelled` (`told` is who cancelled, as the ATS reads it)."""
    booking.state = BookingState.CANCELLED
    booking.ended_at = now
    booking.ended_by = by
    interview = await _write_interview(session, invitation, None)
    await session.flush()
    await webhook_events.record_for_application(
        session,
        WebhookEventType.INTERVIEW_CANCELLED,
        invitation.application_id,
        {
            "interview_external_id": interview.external_id,
            "booking_id": booking.public_id,
            **slot_fields(slot),
            "by": told,
            "reason": reason,
        },
        now=now,
    )


async def release_lapsed_holds(session: AsyncSession, *, now: datetime) -> int:
    """Give the seats of lapsed holds back (the worker's sweep; a hold also frees lapsed
    holds of its own slot as it goes)."""
    result = await session.execute(
        update(InterviewBooking)
        .where(InterviewBooking.state == BookingState.HELD, InterviewBooking.held_until < now)
        .values(state=BookingState.RELEASED, ended_at=now, ended_by="system")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- HR -----------------------------------------------------------------------------------------


def check_scope(principal: HRPrincipal, job: Job) -> None:
    if not principal.is_admin and job.team_id not in principal.team_ids:
        raise BookingNotFoundError("no such booking in your teams")


async def hr_book(
    session: AsyncSession,
    principal: HRPrincipal,
    application_id: int,
    slot_id: int,
    *,
    now: datetime,
) -> InterviewBooking:
    """HR books (or moves) the application's interview to the slot, past the candidate's
    policy: a hold and its confirmation in one step."""
    application = await session.get(Application, application_id)
    if application is None:
        raise BookingNotFoundError("no such application")
    job = await session.get_one(Job, application.job_id)
    check_scope(principal, job)
    if application.status in ENDED:
        raise NoInvitationError("this application has ended: nothing to book")
    invitation = await invitation_of(session, application.id, for_update=True)
    if invitation is None:
        invitation = await invite(session, application, outreach_message_id=None, now=now)
    if invitation is None:
        raise NoInvitationError("this job does not schedule interviews in Candor")
    moving = await confirmed_booking(session, invitation)
    held = await hold(
        session, invitation, slot_id, by=principal.actor, now=now, enforce_notice=False
    )
    if held.state is BookingState.CONFIRMED:
        return held  # already booked there
    booking, _ = await confirm(session, invitation, held.public_id, by=principal.actor, now=now)
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.BOOKING_MOVED_BY_HR if moving else audit.Action.BOOKING_MADE_BY_HR,
        object_type="booking",
        object_id=booking.public_id,
        team_id=job.team_id,
        after={"slot_id": slot_id, "application_id": application.id},
        before={"slot_id": moving.slot_id} if moving is not None else None,
        at=now,
    )
    return booking


async def booking_for_hr(
    session: AsyncSession, principal: HRPrincipal, public_id: str
) -> tuple[InterviewBooking, SchedulingInvitation, Job]:
    booking = await session.scalar(
        select(InterviewBooking).where(InterviewBooking.public_id == public_id)
    )
    if booking is None:
        raise BookingNotFoundError("no such booking")
    invitation = await session.get_one(SchedulingInvitation, booking.invitation_id)
    job = await session.get_one(Job, invitation.job_id)
    check_scope(principal, job)
    return booking, invitation, job


async def hr_cancel(
    session: AsyncSession,
    principal: HRPrincipal,
    public_id: str,
    *,
    reason: str | None,
    now: datetime,
) -> InterviewBooking:
    _, invitation, job = await booking_for_hr(session, principal, public_id)
    booking = await cancel(
        session, invitation, public_id, by=principal.actor, now=now, reason=reason
    )
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.BOOKING_CANCELLED_BY_HR,
        object_type="booking",
        object_id=public_id,
        team_id=job.team_id,
        details={"reason": reason} if reason else None,
        at=now,
    )
    return booking


async def record_attendance(
    session: AsyncSession,
    principal: HRPrincipal,
    public_id: str,
    attendance: Attendance,
    *,
    now: datetime,
) -> InterviewBooking:
    """HR records after the slot whether the candidate came (the no-show KPI)."""
    booking, _, job = await booking_for_hr(session, principal, public_id)
    if booking.state is not BookingState.CONFIRMED:
        raise BookingNotFoundError("that booking is not a confirmed interview")
    slot = await session.get_one(InterviewSlot, booking.slot_id)
    if slot.starts_at > now:
        raise ChangeNotAllowedError("attendance is recorded once the interview has begun")
    booking.attendance = attendance
    booking.attendance_by = principal.actor
    booking.attendance_at = now
    await session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action=audit.Action.BOOKING_ATTENDANCE_RECORDED,
        object_type="booking",
        object_id=public_id,
        team_id=job.team_id,
        after={"attendance": attendance.value},
        at=now,
    )
    return booking


async def bookings_in(
    session: AsyncSession, slot_ids: Sequence[int]
) -> dict[int, list[InterviewBooking]]:
    """The live and past confirmed bookings of the slots, for the calendar."""
    if not slot_ids:
        return {}
    rows = (
        await session.scalars(
            select(InterviewBooking)
            .where(
                InterviewBooking.slot_id.in_(slot_ids),
                InterviewBooking.state.in_((BookingState.HELD, BookingState.CONFIRMED)),
            )
            .order_by(InterviewBooking.slot_id, InterviewBooking.seat)
        )
    ).all()
    found: dict[int, list[InterviewBooking]] = {}
    for booking in rows:
        found.setdefault(booking.slot_id, []).append(booking)
    return found
