"""A candidate invited to book their next interview in chat, and HR's free slots: made through the
scheduling service, as an advance result and HR's console make them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ, utcnow
from candor.enums import InterviewKind
from candor.models import (
    Application,
    HrTask,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    WebhookEvent,
)
from candor.models.dialogue import HrTaskKind
from candor.models.enums import Role
from candor.models.scheduling import BookingState, SlotSource
from candor.models.webhooks import WebhookEventType
from candor.scheduling import service as scheduling
from candor.scheduling.slots import SlotSpec, add_slots
from candor.sla.service import load_calendar
from tests.outreach_world import World

PREPARATION = "请携带身份证和一份纸质简历"
VIDEO = "https://meet.example.com/candor-2"


async def invite(world: World, n: int | str, **policy: Any) -> SchedulingInvitation:
    """Candidate n's application advanced: the job schedules itself, n is invited."""
    async with world.runtime.transaction() as session:
        application = await session.scalar(
            select(Application).where(Application.external_id == f"app-{n}")
        )
        assert application is not None
        if await scheduling.policy_of(session, application.job_id) is None or policy:
            await scheduling.set_policy(
                session,
                application.job_id,
                interview_kind=InterviewKind.ONSITE,
                round=2,
                preparation=policy.pop("preparation", PREPARATION),
                actor="test",
                **policy,
            )
        invitation = await scheduling.invite(
            session, application, outreach_message_id=None, now=utcnow()
        )
        assert invitation is not None
        return invitation


async def working_days(world: World, count: int, *, from_days: int = 3) -> list[date]:
    """The next `count` working days (China's calendar), `from_days` days ahead or later."""
    async with world.runtime.sessionmaker() as session:
        calendar = await load_calendar(session)
    day = utcnow().astimezone(BUSINESS_TZ).date() + timedelta(days=from_days)
    found: list[date] = []
    while len(found) < count:
        if calendar.is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def china(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BUSINESS_TZ)


async def add(
    world: World,
    starts: list[datetime],
    *,
    minutes: int = 45,
    capacity: int = 1,
    location: str | None = "上海市徐汇区漕溪北路 88 号 12 楼",
    video_link: str | None = None,
    interviewers: tuple[str, ...] = ("王经理",),
) -> list[int]:
    """HR's slots for the team-a job's second round; their ids, in the order given."""
    principal = HRPrincipal(world.recruiter.id, Role.RECRUITER, frozenset({world.team.id}))
    async with world.runtime.transaction() as session:
        application = await session.scalar(
            select(Application).where(Application.external_id == "app-1")
        )
        assert application is not None
        slots = await add_slots(
            session,
            principal,
            application.job_id,
            [
                SlotSpec(
                    starts_at=start,
                    ends_at=start + timedelta(minutes=minutes),
                    capacity=capacity,
                    location=location,
                    video_link=video_link,
                    interviewers=interviewers,
                )
                for start in starts
            ],
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.MANUAL,
            now=utcnow(),
        )
        return [slot.id for slot in slots]


@dataclass(frozen=True)
class BookingRow:
    public_id: str
    slot_id: int
    state: BookingState
    moved_to_id: int | None


async def bookings(world: World, n: int) -> list[BookingRow]:
    """Candidate n's bookings, oldest first."""
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(InterviewBooking)
            .join(Application, Application.id == InterviewBooking.application_id)
            .where(Application.external_id == f"app-{n}")
            .order_by(InterviewBooking.id)
        )
        return [BookingRow(b.public_id, b.slot_id, b.state, b.moved_to_id) for b in rows]


async def reschedule_tasks(world: World, n: int) -> list[dict[str, Any]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(HrTask.details)
            .join(Application, Application.id == HrTask.application_id)
            .where(Application.external_id == f"app-{n}", HrTask.kind == HrTaskKind.RESCHEDULE)
            .order_by(HrTask.id)
        )
        return [dict(details) for details in rows]


async def events_of(world: World, kind: WebhookEventType) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.type == kind)
            )
            or 0
        )


async def slot_start(world: World, slot_id: int) -> datetime:
    async with world.runtime.sessionmaker() as session:
        return (await session.get_one(InterviewSlot, slot_id)).starts_at


@dataclass(frozen=True)
class BookingWorld:
    """Candidate 1 invited to book; HR's slots: two on `day` morning, one `later` afternoon."""

    first: int
    second: int
    afternoon: int
    day: date
    later: date

    def move_request(self) -> str:
        """What the candidate types to move to `later`'s afternoon."""
        return f"面试能改到{self.later.month}月{self.later.day}日下午吗"


async def booking_world(world: World) -> BookingWorld:
    await invite(world, 1)
    day, later = await working_days(world, 2)
    first, second, afternoon = await add(world, [china(day, 10), china(day, 11), china(later, 15)])
    return BookingWorld(first, second, afternoon, day, later)
