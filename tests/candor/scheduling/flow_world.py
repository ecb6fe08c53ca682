"""Self-scheduling on top of the outreach world: a job whose candidates book their next
round, slots to book, and the bookings the reminder and KPI tests start from."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from candor.auth.principals import HRPrincipal
from candor.models import Application, Interview
from candor.models.enums import InterviewKind, Role
from candor.models.scheduling import (
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SlotSource,
)
from candor.scheduling import service as scheduling
from tests.outreach_world import World


async def enable_booking(world: World, n: int = 1) -> int:
    """Turn self-scheduling on for the job of application n; returns the job's id."""
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        await scheduling.set_policy(
            session,
            application.job_id,
            interview_kind=InterviewKind.ONSITE,
            min_notice_hours=0,
            move_cutoff_hours=0,
            actor="test",
        )
    return application.job_id


async def add_slot(
    world: World,
    job_id: int,
    starts_at: datetime,
    *,
    capacity: int = 1,
    location: str | None = "上海市徐汇区漕河泾 3 号楼 12 层",
    video_link: str | None = None,
) -> int:
    async with world.runtime.transaction() as session:
        slot = InterviewSlot(
            job_id=job_id,
            round=2,
            kind=InterviewKind.ONSITE,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            capacity=capacity,
            location=location,
            video_link=video_link,
            interviewers=["王面试官"],
            source=SlotSource.MANUAL,
            created_by="test",
        )
        session.add(slot)
        await session.flush()
        return slot.id


async def invitation(world: World, n: int = 1) -> SchedulingInvitation:
    application = await world.application(n)
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(SchedulingInvitation).where(
                SchedulingInvitation.application_id == application.id
            )
        )
        assert found is not None
        return found


async def book(
    world: World, n: int, slot_id: int, *, now: datetime, by: str = scheduling.CANDIDATE
) -> InterviewBooking:
    """The candidate of application n holds and confirms the slot (as the chat would)."""
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        found = await scheduling.invitation_of(session, application.id, for_update=True)
        if found is None:
            app = await session.get_one(Application, application.id)
            found = await scheduling.invite(session, app, outreach_message_id=None, now=now)
        assert found is not None
        held = await scheduling.hold(session, found, slot_id, by=by, now=now)
        booking, _ = await scheduling.confirm(session, found, held.public_id, by=by, now=now)
        return booking


async def interview_of(world: World, n: int = 1) -> Interview | None:
    application = await world.application(n)
    async with world.runtime.sessionmaker() as session:
        return await session.scalar(
            select(Interview).where(
                Interview.application_id == application.id,
                Interview.external_id.like("candor-booking-%"),
            )
        )


def recruiter(world: World) -> HRPrincipal:
    return HRPrincipal(
        user_id=world.recruiter.id, role=Role.RECRUITER, team_ids=frozenset({world.team.id})
    )
