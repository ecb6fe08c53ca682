"""Self-scheduling through `candor.scheduling.service`: invitations, offers on China's
calendar, holds and confirmations, moves and cancellations within the job's policy, HR's
side with team scope; and, on PostgreSQL, 50 candidates racing for 10 seats."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from candor.clock import BUSINESS_TZ
from candor.models import Application, Base, Interview
from candor.models.audit import AuditEntry
from candor.models.enums import ApplicationStatus, InterviewKind
from candor.models.scheduling import (
    Attendance,
    BookingState,
    InterviewBooking,
    InterviewSlot,
    InvitationState,
    SchedulingInvitation,
)
from candor.models.webhooks import WebhookEvent, WebhookEventType
from candor.runtime import Runtime
from candor.scheduling import service
from candor.scheduling.errors import (
    BookingNotFoundError,
    ChangeNotAllowedError,
    HoldLapsedError,
    NoInvitationError,
    SlotNotFoundError,
    SlotTakenError,
    SlotTooSoonError,
)
from candor.scheduling.slots import cancel_slot
from candor.settings import Settings
from candor.sla.service import current_calendar
from tests.candor.scheduling.conftest import NOW, World, build_world, shanghai, starts
from tests.conftest import REDIS_URL, TEST_SECRET


async def offers_for(
    booking_world: World, invitation_id: int, **options: Any
) -> list[service.Offer]:
    async with booking_world.runtime.sessionmaker() as session:
        invitation = await session.get_one(SchedulingInvitation, invitation_id)
        calendar = await current_calendar(session)
        return await service.offers(
            session, invitation, calendar, now=options.pop("now", NOW), **options
        )


async def interview_of(booking_world: World, invitation_id: int) -> Interview:
    invitation = await booking_world.invitation(invitation_id)
    assert invitation.interview_id is not None
    async with booking_world.runtime.sessionmaker() as session:
        return await session.get_one(Interview, invitation.interview_id)


def of_type(events: list[WebhookEvent], kind: WebhookEventType) -> list[WebhookEvent]:
    return [event for event in events if event.type is kind]


# -- Invitations ------------------------------------------------------------------------------


async def test_an_invitation_is_opened_once_and_only_for_a_job_that_schedules_itself(
    booking_world: World,
) -> None:
    first = await booking_world.invite(booking_world.application_ids[0])
    assert await booking_world.invite(booking_world.application_ids[0]) == first
    invitation = await booking_world.invitation(first)
    assert invitation.state is InvitationState.OPEN
    assert invitation.round == 2
    assert invitation.kind is InterviewKind.ONSITE
    assert len(invitation.token) >= 16

    async with booking_world.runtime.transaction() as session:
        await service.set_policy(
            session,
            booking_world.job_id,
            interview_kind=InterviewKind.ONSITE,
            enabled=False,
            actor="test",
        )
    async with booking_world.runtime.transaction() as session:
        application = await session.get_one(Application, booking_world.application_ids[1])
        assert await service.invite(session, application, outreach_message_id=None, now=NOW) is None
    async with booking_world.runtime.sessionmaker() as session:
        assert (await service.invitation_by_token(session, invitation.token)) is not None
        assert (await service.invitation_by_token(session, "x" * 65)) is None
        assert (await service.invitation_by_token(session, "")) is None


# -- Offers -----------------------------------------------------------------------------------


async def test_offers_are_the_soonest_slots_past_the_notice_never_on_a_holiday(
    booking_world: World,
) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    for moment in (
        "2026-09-28 11:00",  # in an hour: inside the two hours' notice
        "2026-10-08 10:00",
        "2026-09-29 10:00",
        "2026-10-01 10:00",  # National Day
        "2026-10-03 10:00",  # National Day, a Saturday
        "2026-10-06 15:00",  # National Day
        "2026-09-30 14:00",
        "2026-10-10 10:00",  # the make-up working Saturday (调休)
        "2026-10-11 10:00",  # an ordinary Sunday: HR chose to interview then
    ):
        await booking_world.add_slot(shanghai(moment))
    await booking_world.add_slot(shanghai("2026-09-29 09:00"), round=3)  # another round
    await booking_world.add_slot(shanghai("2026-09-29 09:00"), job_id=booking_world.other_job_id)

    expected = [
        shanghai(m)
        for m in (
            "2026-09-29 10:00",
            "2026-09-30 14:00",
            "2026-10-08 10:00",
            "2026-10-10 10:00",
            "2026-10-11 10:00",
        )
    ]
    assert (
        starts(await offers_for(booking_world, invitation)) == expected[:3]
    )  # the job's offer_count
    assert starts(await offers_for(booking_world, invitation, limit=10)) == expected
    assert starts(await offers_for(booking_world, invitation, limit=1)) == expected[:1]
    # "More times": the page after the last time shown.
    assert (
        starts(await offers_for(booking_world, invitation, after=expected[1], limit=10))
        == expected[2:]
    )
    assert starts(await offers_for(booking_world, invitation, after=expected[4])) == []
    # The notice moves with the clock: at 09:30 the 10:00 slot is too soon.
    later = shanghai("2026-09-29 09:30")
    assert starts(await offers_for(booking_world, invitation, now=later, limit=10)) == expected[1:]
    # The caller's own filter (e.g. "Thursday afternoon").
    thursday = await offers_for(
        booking_world,
        invitation,
        limit=10,
        accept=lambda slot: slot.starts_at.astimezone(BUSINESS_TZ).weekday() == 3,
    )
    assert starts(thursday) == [shanghai("2026-10-08 10:00")]


async def test_a_full_slot_is_not_offered_and_a_lapsed_hold_frees_its_seat(
    booking_world: World,
) -> None:
    first, second, third = [await booking_world.invite(a) for a in booking_world.application_ids]
    single = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    pair = await booking_world.add_slot(shanghai("2026-09-29 14:00"), capacity=2)

    await booking_world.book(first, single)
    await booking_world.book(first, pair)  # a move: the single slot is free again
    await booking_world.hold(second, single)

    offered = {o.slot.id: o.seats_left for o in await offers_for(booking_world, third, limit=10)}
    assert offered == {pair: 1}
    # The candidate's own confirmed slot is not offered back to them.
    assert [o.slot.id for o in await offers_for(booking_world, first, limit=10)] == []

    # Ten minutes on, the second candidate's hold lapsed: its seat counts as free.
    lapsed = NOW + timedelta(minutes=11)
    offered = {o.slot.id: o.seats_left for o in await offers_for(booking_world, third, now=lapsed)}
    assert offered == {single: 1, pair: 1}


# -- Holding ----------------------------------------------------------------------------------


async def test_a_hold_takes_the_lowest_free_seat_and_a_new_pick_gives_the_old_one_back(
    booking_world: World,
) -> None:
    first, second, third = [await booking_world.invite(a) for a in booking_world.application_ids]
    group = await booking_world.add_slot(shanghai("2026-09-29 10:00"), capacity=3)
    other = await booking_world.add_slot(shanghai("2026-09-30 10:00"))

    held_first = await booking_world.hold(first, group)
    held_second = await booking_world.hold(second, group)
    assert (await booking_world.booking(held_first)).seat == 1
    assert (await booking_world.booking(held_second)).seat == 2

    moved_on = await booking_world.hold(first, other)  # the first candidate picks another time
    assert (await booking_world.booking(held_first)).state is BookingState.RELEASED
    assert (await booking_world.booking(moved_on)).state is BookingState.HELD

    held_third = await booking_world.hold(third, group)
    assert (await booking_world.booking(held_third)).seat == 1
    assert [b.seat for b in await booking_world.live_bookings(group)] == [1, 2]

    booking = await booking_world.booking(held_third)
    assert booking.held_until == NOW + timedelta(minutes=10)
    assert booking.booked_by == service.CANDIDATE


async def test_a_taken_slot_is_refused_until_its_hold_lapses(booking_world: World) -> None:
    first, second, third = [await booking_world.invite(a) for a in booking_world.application_ids]
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    held = await booking_world.hold(first, slot)

    with pytest.raises(SlotTakenError) as taken:
        await booking_world.hold(second, slot)
    assert taken.value.code == "slot_taken"
    assert taken.value.http_status == 409

    # Past the hold time, the next candidate's hold releases the lapsed one and takes its seat.
    later = NOW + timedelta(minutes=11)
    taker = await booking_world.hold(second, slot, now=later)
    assert (await booking_world.booking(held)).state is BookingState.RELEASED
    assert (await booking_world.booking(taker)).seat == 1
    with pytest.raises(HoldLapsedError):
        await booking_world.confirm(first, held, now=later)

    await booking_world.confirm(second, taker, now=later)
    with pytest.raises(SlotTakenError):
        await booking_world.hold(third, slot, now=later + timedelta(hours=1))


async def test_holding_the_slot_already_booked_returns_that_booking(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    booked = await booking_world.book(invitation, slot)
    assert await booking_world.hold(invitation, slot) == booked
    assert (await booking_world.booking(booked)).state is BookingState.CONFIRMED


async def test_a_slot_in_the_past_or_inside_the_notice_cannot_be_held(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    soon = await booking_world.add_slot(shanghai("2026-09-28 11:30"))  # 90 minutes ahead
    later = await booking_world.add_slot(shanghai("2026-09-29 10:00"))

    with pytest.raises(SlotTooSoonError):
        await booking_world.hold(invitation, soon)
    with pytest.raises(SlotTooSoonError):
        await booking_world.hold(
            invitation, later, now=shanghai("2026-09-29 10:30")
        )  # it has begun
    # Held in time, but confirmed once the slot began: too late as well.
    held = await booking_world.hold(invitation, later)
    with pytest.raises(SlotTooSoonError):
        await booking_world.confirm(invitation, held, now=shanghai("2026-09-29 10:00"))


async def test_a_foreign_withdrawn_or_made_up_slot_is_not_found(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    foreign = await booking_world.add_slot(
        shanghai("2026-09-29 10:00"), job_id=booking_world.other_job_id
    )
    other_round = await booking_world.add_slot(shanghai("2026-09-29 10:00"), round=3)
    withdrawn = await booking_world.add_slot(shanghai("2026-09-29 11:00"))
    async with booking_world.runtime.transaction() as session:
        await cancel_slot(session, booking_world.hr, withdrawn, now=NOW)

    for slot_id in (foreign, other_round, withdrawn, 10**9):
        with pytest.raises(SlotNotFoundError) as error:
            await booking_world.hold(invitation, slot_id)
        assert error.value.http_status == 404


async def test_a_closed_invitation_books_nothing(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    other = await booking_world.add_slot(shanghai("2026-09-30 10:00"))
    booked = await booking_world.book(invitation, slot)
    async with booking_world.runtime.transaction() as session:
        assert (
            await service.close_invitations(session, booking_world.application_ids[0], now=NOW) == 1
        )
    async with booking_world.runtime.transaction() as session:
        assert (
            await service.close_invitations(session, booking_world.application_ids[0], now=NOW) == 0
        )

    closed = await booking_world.invitation(invitation)
    assert closed.state is InvitationState.CLOSED
    assert closed.closed_at == NOW
    assert (await booking_world.booking(booked)).state is BookingState.CANCELLED
    assert await booking_world.live_bookings(slot) == []
    with pytest.raises(NoInvitationError) as error:
        await booking_world.hold(invitation, other)
    assert error.value.code == "no_invitation"
    async with booking_world.runtime.sessionmaker() as session:
        assert await service.invitation_of(session, booking_world.application_ids[0]) is None


# -- Confirming -------------------------------------------------------------------------------


async def test_a_confirmation_writes_the_interview_and_tells_the_ats_once(
    booking_world: World,
) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    held = await booking_world.hold(invitation, slot)
    assert await booking_world.events() == []  # a hold is not news for the ATS

    confirmed_at = NOW + timedelta(minutes=3)
    assert await booking_world.confirm(invitation, held, now=confirmed_at) == (held, True)
    assert await booking_world.confirm(invitation, held, now=confirmed_at) == (held, False)

    booking = await booking_world.booking(held)
    assert booking.state is BookingState.CONFIRMED
    assert booking.confirmed_at == confirmed_at
    assert booking.held_until is None
    state = await booking_world.invitation(invitation)
    assert state.state is InvitationState.BOOKED
    assert state.first_booked_at == confirmed_at
    assert state.booked_by_candidate is True
    interview = await interview_of(booking_world, invitation)
    assert interview.scheduled_at == shanghai("2026-09-29 10:00")
    assert interview.round == 2
    assert interview.kind is InterviewKind.ONSITE
    assert interview.application_id == booking_world.application_ids[0]

    [event] = await booking_world.events()
    assert event.type is WebhookEventType.INTERVIEW_BOOKED
    data = event.payload["data"]
    assert data["booking_id"] == held
    assert data["interview_external_id"] == interview.external_id
    assert data["starts_at"] == "2026-09-29T02:00:00.000Z"
    assert data["by"] == "candidate"
    assert data["application_external_id"] == "ext-app-0"


async def test_a_lapsed_hold_nobody_claimed_still_confirms(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    held = await booking_world.hold(invitation, slot)
    assert await booking_world.confirm(invitation, held, now=NOW + timedelta(hours=3)) == (
        held,
        True,
    )


async def test_a_released_or_foreign_booking_cannot_be_confirmed(booking_world: World) -> None:
    first, second, _ = [await booking_world.invite(a) for a in booking_world.application_ids]
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    other = await booking_world.add_slot(shanghai("2026-09-30 10:00"))
    given_up = await booking_world.hold(first, slot)
    await booking_world.hold(first, other)
    with pytest.raises(HoldLapsedError) as lapsed:
        await booking_world.confirm(first, given_up)
    assert lapsed.value.code == "hold_lapsed"

    theirs = await booking_world.hold(second, slot)
    for public_id in (theirs, "made-up-id"):
        with pytest.raises(BookingNotFoundError) as error:
            await booking_world.confirm(first, public_id)
        assert error.value.http_status == 404
    assert (await booking_world.booking(theirs)).state is BookingState.HELD
    assert await booking_world.events() == []


# -- Moving and cancelling --------------------------------------------------------------------


async def test_a_move_replaces_the_booking_and_counts(booking_world: World) -> None:
    first, second, _ = [await booking_world.invite(a) for a in booking_world.application_ids]
    old_slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    new_slot = await booking_world.add_slot(shanghai("2026-10-08 15:00"))
    old = await booking_world.book(first, old_slot)

    old_id = (await booking_world.booking(old)).id
    async with booking_world.runtime.sessionmaker() as session:
        invitation = await session.get_one(SchedulingInvitation, first)
        booking = await session.get_one(InterviewBooking, old_id)
        await service.check_change_allowed(session, invitation, booking, moving=True, now=NOW)
    new = await booking_world.book(first, new_slot)

    moved, replacement = await booking_world.booking(old), await booking_world.booking(new)
    assert moved.state is BookingState.MOVED
    assert moved.moved_to_id == replacement.id
    assert moved.ended_by == service.CANDIDATE
    assert replacement.state is BookingState.CONFIRMED
    state = await booking_world.invitation(first)
    assert state.moves == 1
    assert state.state is InvitationState.BOOKED
    assert (await interview_of(booking_world, first)).scheduled_at == shanghai("2026-10-08 15:00")

    booked, moved_event = await booking_world.events()
    assert booked.type is WebhookEventType.INTERVIEW_BOOKED
    assert moved_event.type is WebhookEventType.INTERVIEW_MOVED
    assert moved_event.payload["data"]["previous_starts_at"] == "2026-09-29T02:00:00.000Z"
    assert moved_event.payload["data"]["starts_at"] == "2026-10-08T07:00:00.000Z"
    assert (
        moved_event.payload["data"]["interview_external_id"]
        == booked.payload["data"]["interview_external_id"]
    )
    # The old seat is free for someone else.
    assert old_slot in [o.slot.id for o in await offers_for(booking_world, second)]


async def test_the_policy_limits_how_late_and_how_often_a_candidate_changes(
    runtime: Runtime,
) -> None:
    booking_world = await build_world(runtime, move_cutoff_hours=24, max_moves=1)
    invitation = await booking_world.invite(booking_world.application_ids[0])
    tomorrow = await booking_world.add_slot(shanghai("2026-09-29 09:00"))  # 23 hours ahead
    later = await booking_world.add_slot(shanghai("2026-10-08 10:00"))

    async def check(public_id: str, *, moving: bool) -> None:
        async with booking_world.runtime.sessionmaker() as session:
            state = await session.get_one(SchedulingInvitation, invitation)
            booking = await session.scalar(
                select(InterviewBooking).where(InterviewBooking.public_id == public_id)
            )
            assert booking is not None
            await service.check_change_allowed(session, state, booking, moving=moving, now=NOW)

    soon = await booking_world.book(invitation, tomorrow)
    for moving in (True, False):
        with pytest.raises(ChangeNotAllowedError) as error:
            await check(soon, moving=moving)
        assert error.value.code == "change_not_allowed"
    async with booking_world.runtime.transaction() as session:
        state = await session.get_one(SchedulingInvitation, invitation)
        with pytest.raises(ChangeNotAllowedError):
            await service.cancel(session, state, soon, by=service.CANDIDATE, now=NOW)
    assert (await booking_world.booking(soon)).state is BookingState.CONFIRMED

    # HR moves it past the policy; the candidate's one move is then left, then none.
    async with booking_world.runtime.transaction() as session:
        moved = await service.hr_book(
            session, booking_world.hr, booking_world.application_ids[0], later, now=NOW
        )
        assert moved.booked_by == booking_world.hr.actor
    assert (await booking_world.invitation(invitation)).moves == 1
    with pytest.raises(ChangeNotAllowedError):
        await check(moved.public_id, moving=True)
    await check(moved.public_id, moving=False)  # a cancellation is still the candidate's


async def test_a_cancellation_frees_the_slot_and_reopens_the_invitation(
    booking_world: World,
) -> None:
    first, second, _ = [await booking_world.invite(a) for a in booking_world.application_ids]
    slot = await booking_world.add_slot(shanghai("2026-10-08 10:00"))
    booked = await booking_world.book(first, slot)

    async with booking_world.runtime.transaction() as session:
        invitation = await session.get_one(SchedulingInvitation, first)
        await service.cancel(
            session, invitation, booked, by=service.CANDIDATE, now=NOW, reason="另有安排"
        )
    async with booking_world.runtime.transaction() as session:
        invitation = await session.get_one(SchedulingInvitation, first)
        with pytest.raises(BookingNotFoundError):  # cancelled already
            await service.cancel(session, invitation, booked, by=service.CANDIDATE, now=NOW)

    cancelled = await booking_world.booking(booked)
    assert cancelled.state is BookingState.CANCELLED
    assert cancelled.ended_by == service.CANDIDATE
    assert (await booking_world.invitation(first)).state is InvitationState.OPEN
    assert (await interview_of(booking_world, first)).scheduled_at is None
    events = await booking_world.events()
    [event] = of_type(events, WebhookEventType.INTERVIEW_CANCELLED)
    assert event.payload["data"]["reason"] == "另有安排"
    assert event.payload["data"]["by"] == "candidate"
    assert [o.slot.id for o in await offers_for(booking_world, second)] == [slot]
    # The candidate may book again later; the same interview row carries the new time.
    rebooked = await booking_world.book(first, slot)
    assert (await booking_world.booking(rebooked)).state is BookingState.CONFIRMED
    assert (await interview_of(booking_world, first)).scheduled_at == shanghai("2026-10-08 10:00")


async def test_the_sweep_releases_lapsed_holds_only(booking_world: World) -> None:
    first, second, _ = [await booking_world.invite(a) for a in booking_world.application_ids]
    slot = await booking_world.add_slot(shanghai("2026-10-08 10:00"), capacity=2)
    lapsing = await booking_world.hold(first, slot)
    fresh = await booking_world.hold(second, slot, now=NOW + timedelta(minutes=8))
    async with booking_world.runtime.transaction() as session:
        count = await service.release_lapsed_holds(session, now=NOW + timedelta(minutes=11))
    assert count == 1
    assert (await booking_world.booking(lapsing)).state is BookingState.RELEASED
    assert (await booking_world.booking(fresh)).state is BookingState.HELD


# -- HR -----------------------------------------------------------------------------------------


async def test_hr_books_moves_and_cancels_within_their_teams(booking_world: World) -> None:
    application = booking_world.application_ids[0]
    soon = await booking_world.add_slot(
        shanghai("2026-09-28 11:00")
    )  # inside the candidates' notice
    later = await booking_world.add_slot(shanghai("2026-10-08 10:00"))

    async with booking_world.runtime.transaction() as session:
        with pytest.raises(BookingNotFoundError):
            await service.hr_book(session, booking_world.outsider, application, soon, now=NOW)
    async with booking_world.runtime.transaction() as session:
        with pytest.raises(BookingNotFoundError):
            await service.hr_book(session, booking_world.hr, 10**9, soon, now=NOW)
    async with booking_world.runtime.transaction() as session:
        booked = await service.hr_book(session, booking_world.hr, application, soon, now=NOW)
        booked_id = booked.public_id
    async with booking_world.runtime.transaction() as session:
        again = await service.hr_book(session, booking_world.hr, application, soon, now=NOW)
        assert again.public_id == booked_id
    async with booking_world.runtime.sessionmaker() as session:
        invitation = await service.invitation_of(session, application)
        assert invitation is not None
        assert invitation.booked_by_candidate is False
        assert invitation.moves == 0
    async with booking_world.runtime.transaction() as session:
        moved = await service.hr_book(session, booking_world.hr, application, later, now=NOW)
        moved_id = moved.public_id
    assert (await booking_world.booking(booked_id)).state is BookingState.MOVED
    assert (await booking_world.invitation(invitation.id)).moves == 1

    async with booking_world.runtime.transaction() as session:
        for public_id in (moved_id, "made-up-id"):
            with pytest.raises(BookingNotFoundError):
                await service.booking_for_hr(session, booking_world.outsider, public_id)
        with pytest.raises(BookingNotFoundError):
            await service.hr_cancel(session, booking_world.outsider, moved_id, reason=None, now=NOW)
    assert (await booking_world.booking(moved_id)).state is BookingState.CONFIRMED

    async with booking_world.runtime.transaction() as session:
        await service.hr_cancel(session, booking_world.hr, moved_id, reason="面试官出差", now=NOW)
    assert (await booking_world.booking(moved_id)).state is BookingState.CANCELLED
    assert (await booking_world.invitation(invitation.id)).state is InvitationState.OPEN

    events = await booking_world.events()
    assert [e.type for e in events] == [
        WebhookEventType.INTERVIEW_BOOKED,
        WebhookEventType.INTERVIEW_MOVED,
        WebhookEventType.INTERVIEW_CANCELLED,
    ]
    assert {e.payload["data"]["by"] for e in events} == {"hr"}
    async with booking_world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "booking")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["booking.made_by_hr", "booking.moved_by_hr", "booking.cancelled_by_hr"]


async def test_hr_books_for_an_application_of_a_job_without_self_scheduling(
    runtime: Runtime,
) -> None:
    booking_world = await build_world(runtime, policy=False)
    async with booking_world.runtime.transaction() as session:
        with pytest.raises(NoInvitationError):
            await service.hr_book(
                session, booking_world.hr, booking_world.application_ids[0], 1, now=NOW
            )


async def test_attendance_is_recorded_once_the_interview_began(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    booked = await booking_world.book(invitation, slot)

    async def record(principal: Any, public_id: str, when: Any) -> InterviewBooking:
        async with booking_world.runtime.transaction() as session:
            return await service.record_attendance(
                session, principal, public_id, Attendance.NO_SHOW, now=when
            )

    with pytest.raises(ChangeNotAllowedError):
        await record(booking_world.hr, booked, shanghai("2026-09-29 09:59"))
    with pytest.raises(BookingNotFoundError):
        await record(booking_world.outsider, booked, shanghai("2026-09-29 11:00"))
    done = await record(booking_world.hr, booked, shanghai("2026-09-29 11:00"))
    assert done.attendance is Attendance.NO_SHOW
    assert done.attendance_by == booking_world.hr.actor

    # Only a confirmed interview has an attendance.
    second = await booking_world.invite(booking_world.application_ids[1])
    other = await booking_world.add_slot(shanghai("2026-09-29 14:00"))
    held = await booking_world.hold(second, other)
    with pytest.raises(BookingNotFoundError):
        await record(booking_world.hr, held, shanghai("2026-09-29 15:00"))


async def test_an_interview_that_began_stays_booked_when_the_application_ends(
    booking_world: World,
) -> None:
    """A rejection after the interview is the usual path: the interview took place (or was
    missed), so it is not cancelled, and HR may still record the attendance."""
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    booked = await booking_world.book(invitation, slot)
    after = shanghai("2026-09-29 12:00")
    async with booking_world.runtime.transaction() as session:
        await service.close_invitations(session, booking_world.application_ids[0], now=after)

    assert (await booking_world.booking(booked)).state is BookingState.CONFIRMED
    assert [e.type for e in await booking_world.events()] == [WebhookEventType.INTERVIEW_BOOKED]
    async with booking_world.runtime.transaction() as session:
        done = await service.record_attendance(
            session, booking_world.hr, booked, Attendance.NO_SHOW, now=after
        )
    assert done.attendance is Attendance.NO_SHOW


async def test_hr_books_nothing_for_an_ended_application(booking_world: World) -> None:
    application_id = booking_world.application_ids[0]
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    async with booking_world.runtime.transaction() as session:
        application = await session.get_one(Application, application_id)
        application.status = ApplicationStatus.REJECTED
    async with booking_world.runtime.transaction() as session:
        with pytest.raises(NoInvitationError):
            await service.hr_book(session, booking_world.hr, application_id, slot, now=NOW)
    assert await booking_world.live_bookings(slot) == []


async def test_an_invitation_opened_again_is_measured_afresh(booking_world: World) -> None:
    application_id = booking_world.application_ids[0]
    invitation = await booking_world.invite(application_id)
    first = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    second = await booking_world.add_slot(shanghai("2026-09-30 10:00"))
    await booking_world.book(invitation, first)
    await booking_world.book(invitation, second)  # a move
    async with booking_world.runtime.transaction() as session:
        await service.close_invitations(session, application_id, now=NOW)
    later = NOW + timedelta(days=1)
    async with booking_world.runtime.transaction() as session:
        application = await session.get_one(Application, application_id)
        reopened = await service.invite(session, application, outreach_message_id=None, now=later)
        assert reopened is not None
        assert reopened.id == invitation
        assert (reopened.moves, reopened.first_booked_at, reopened.booked_by_candidate) == (
            0,
            None,
            None,
        )
        assert reopened.invited_at == later


async def test_a_withdrawn_slot_cannot_be_confirmed(booking_world: World) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    held = await booking_world.hold(invitation, slot)
    async with booking_world.runtime.transaction() as session:
        found = await session.get_one(InterviewSlot, slot)
        found.cancelled_at = NOW  # as a withdrawal racing the hold leaves it
    with pytest.raises(SlotNotFoundError):
        await booking_world.confirm(invitation, held)


# -- Races ------------------------------------------------------------------------------------


async def test_the_database_itself_refuses_a_seat_or_a_booking_twice(booking_world: World) -> None:
    """The guarantee under the service: whatever a process does, a seat is live in one
    booking and an invitation has one hold and one confirmed booking."""
    first, second, _ = [await booking_world.invite(a) for a in booking_world.application_ids]
    slot = await booking_world.add_slot(shanghai("2026-10-08 10:00"), capacity=2)
    other = await booking_world.add_slot(shanghai("2026-10-09 10:00"))
    taken = await booking_world.booking(await booking_world.book(first, slot))

    def row(invitation_id: int, slot_id: int, seat: int, state: BookingState) -> InterviewBooking:
        return InterviewBooking(
            public_id=service.new_public_id(),
            invitation_id=invitation_id,
            application_id=booking_world.application_ids[0 if invitation_id == first else 1],
            slot_id=slot_id,
            seat=seat,
            state=state,
            booked_by="test",
            created_at=NOW,
        )

    for duplicate in (
        row(second, slot, taken.seat, BookingState.HELD),  # the same seat
        row(first, other, 1, BookingState.CONFIRMED),  # a second confirmed booking
    ):
        with pytest.raises(IntegrityError):
            async with booking_world.runtime.transaction() as session:
                session.add(duplicate)
    async with booking_world.runtime.transaction() as session:
        session.add(row(first, other, 1, BookingState.HELD))  # a move's hold beside it
    with pytest.raises(IntegrityError):
        async with booking_world.runtime.transaction() as session:
            session.add(row(first, slot, 2, BookingState.HELD))  # a second hold
    # A seat given back is free for a new booking.
    async with booking_world.runtime.transaction() as session:
        session.add(row(second, slot, taken.seat, BookingState.RELEASED))
    assert await booking_world.double_booked_seats() == []


async def test_a_double_click_on_confirm_confirms_once(booking_world: World) -> None:
    """Both presses run at once, each in its own transaction: one confirms, the other sees
    the confirmation, and the ATS hears of it once."""
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-09-29 10:00"))
    held = await booking_world.hold(invitation, slot)

    outcomes = await asyncio.gather(
        *(booking_world.confirm(invitation, held) for _ in range(2)), return_exceptions=True
    )
    assert sorted(outcomes, key=str) == [(held, False), (held, True)]
    assert [e.type for e in await booking_world.events()] == [WebhookEventType.INTERVIEW_BOOKED]
    async with booking_world.runtime.sessionmaker() as session:
        interviews = (await session.scalars(select(Interview))).all()
    assert len(interviews) == 1


async def test_a_double_click_on_a_time_or_on_cancel_changes_it_once(booking_world: World) -> None:
    """A time picked twice at once leaves one hold standing, not a "taken" answer to the
    candidate's own second press; a cancellation pressed twice cancels once."""
    invitation = await booking_world.invite(booking_world.application_ids[0])
    slot = await booking_world.add_slot(shanghai("2026-10-08 10:00"))

    held = await asyncio.gather(*(booking_world.hold(invitation, slot) for _ in range(2)))
    assert len(set(held)) == 2
    [live] = await booking_world.live_bookings(slot)
    assert live.public_id in held
    assert live.invitation_id == invitation
    booked, _ = await booking_world.confirm(invitation, live.public_id)

    async def cancel() -> str:
        async with booking_world.runtime.transaction() as session:
            state = await session.get_one(SchedulingInvitation, invitation)
            await service.cancel(session, state, booked, by=service.CANDIDATE, now=NOW)
            return "cancelled"

    outcomes = await asyncio.gather(cancel(), cancel(), return_exceptions=True)
    assert sorted(map(type, outcomes), key=str) == [BookingNotFoundError, str]
    assert len(of_type(await booking_world.events(), WebhookEventType.INTERVIEW_CANCELLED)) == 1


RACERS = 50
SEATS = 10


def _race_settings(postgres_url: str, pool: int) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=postgres_url,
        redis_url=REDIS_URL,
        database_pool_size=pool,
        log_level="WARNING",
    )


Outcome = tuple[int, str | None, str | None]  # invitation, booking's public id, error met


async def _race(runtime: Runtime, pairs: list[tuple[int, int]]) -> list[Outcome]:
    """Each candidate holds its slot and confirms, each step in its own transaction on its
    own connection, all at once."""
    steps = _Operations(runtime)

    async def one(invitation_id: int, slot_id: int) -> Outcome:
        try:
            public_id = await steps.hold(invitation_id, slot_id)
            await steps.confirm(invitation_id, public_id)
        except Exception as error:  # anything but SlotTakenError fails the test
            return invitation_id, None, f"{type(error).__name__}: {error}"[:300]
        return invitation_id, public_id, None

    return list(await asyncio.gather(*(one(i, s) for i, s in pairs)))


class _Operations:
    """The World's two steps without the rest of it, for a process that has a runtime only."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def hold(self, invitation_id: int, slot_id: int) -> str:
        async with self.runtime.transaction() as session:
            invitation = await session.get_one(SchedulingInvitation, invitation_id)
            booking = await service.hold(session, invitation, slot_id, by="candidate", now=NOW)
            return booking.public_id

    async def confirm(self, invitation_id: int, public_id: str) -> None:
        async with self.runtime.transaction() as session:
            invitation = await session.get_one(SchedulingInvitation, invitation_id)
            await service.confirm(session, invitation, public_id, by="candidate", now=NOW)


def race_in_process(
    postgres_url: str,
    pairs: list[tuple[int, int]],
    start: Any,
    results: Any,
) -> None:
    """One OS process's share of the racers: waits for the others, then races."""

    async def run() -> list[Outcome]:
        runtime = Runtime.create(_race_settings(postgres_url, len(pairs)))
        try:
            async with runtime.sessionmaker() as session:  # connect before the start
                await session.execute(select(1))
            await asyncio.to_thread(start.wait)
            return await _race(runtime, pairs)
        finally:
            await runtime.aclose()

    results.put(asyncio.run(run()))


@pytest.mark.scaled
@pytest.mark.parametrize(
    ("racing", "layout"),
    [
        ("coroutines", "one slot of 10 seats"),
        ("coroutines", "ten one-seat slots"),
        ("processes", "one slot of 10 seats"),
    ],
)
async def test_fifty_candidates_race_for_ten_seats(
    postgres_url: str, layout: str, racing: str
) -> None:
    """PostgreSQL only (SQLite's single writer runs one transaction at a time): whatever the
    interleaving, exactly ten bookings stand, no seat is booked twice, and every other
    candidate is told the time was taken."""
    runtime = Runtime.create(_race_settings(postgres_url, RACERS))
    try:
        async with runtime.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())
        booking_world = await build_world(runtime, applications=RACERS)
        invitations = [await booking_world.invite(a) for a in booking_world.application_ids]
        if layout == "one slot of 10 seats":
            slot = await booking_world.add_slot(shanghai("2026-10-08 10:00"), capacity=SEATS)
            slots = [slot] * RACERS
        else:
            ten = [
                await booking_world.add_slot(shanghai("2026-10-08 09:00") + timedelta(hours=n))
                for n in range(SEATS)
            ]
            slots = [ten[n % SEATS] for n in range(RACERS)]
        pairs = list(zip(invitations, slots, strict=True))

        if racing == "coroutines":
            outcomes = await _race(runtime, pairs)
        else:
            context = multiprocessing.get_context("spawn")
            processes = 3
            start = context.Barrier(processes)
            results = context.Queue()
            workers = [
                context.Process(
                    target=race_in_process,
                    args=(postgres_url, pairs[n::processes], start, results),
                )
                for n in range(processes)
            ]
            for worker in workers:
                worker.start()
            outcomes = []
            for _ in workers:
                outcomes += await asyncio.to_thread(results.get, True, 300)
            for worker in workers:
                await asyncio.to_thread(worker.join, 60)
                assert worker.exitcode == 0

        assert len(outcomes) == RACERS
        winners = {i: public_id for i, public_id, _ in outcomes if public_id is not None}
        errors = [error for _, _, error in outcomes if error is not None]
        assert len(winners) == SEATS
        # Every loser was told the time was taken: no IntegrityError or anything else leaked.
        assert len(errors) == RACERS - SEATS
        assert {error.split(":")[0] for error in errors} == {"SlotTakenError"}, errors[:3]

        assert await booking_world.double_booked_seats() == []
        async with runtime.sessionmaker() as session:
            bookings = (await session.scalars(select(InterviewBooking))).all()
            states = dict(
                (
                    await session.execute(
                        select(SchedulingInvitation.id, SchedulingInvitation.state)
                    )
                ).all()
            )
            events = (await session.scalars(select(WebhookEvent))).all()
        confirmed = [b for b in bookings if b.state is BookingState.CONFIRMED]
        assert len(confirmed) == SEATS == len(bookings)  # a loser never held a seat
        assert {b.public_id for b in confirmed} == set(winners.values())
        assert len({(b.slot_id, b.seat) for b in confirmed}) == SEATS
        assert {b.invitation_id for b in confirmed} == set(winners)
        for invitation_id in invitations:
            expected = InvitationState.BOOKED if invitation_id in winners else InvitationState.OPEN
            assert states[invitation_id] == expected
        assert len(events) == SEATS
        assert {e.type for e in events} == {WebhookEventType.INTERVIEW_BOOKED}
    finally:
        await runtime.aclose()
