"""A job that schedules its second round itself, its team's HR, another team's job, and a few
applications: the booking_world the scheduling tests book in.

Every step runs in its own committed transaction, as the chat and the console do, and the
clock is passed in: the dates are fixed against China's 2026 calendar (National Day
1-7 October, the make-up working Saturday 10 October).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.auth.principals import HRPrincipal, load_principal
from candor.models import Application
from candor.models.enums import InterviewKind
from candor.models.scheduling import (
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
    SlotSource,
)
from candor.models.webhooks import WebhookEvent
from candor.runtime import Runtime
from candor.scheduling import service
from candor.scheduling.slots import SlotSpec, add_slots
from tests.factories import application_created, make_hr_user, make_team

# Monday 28 September 2026, 10:00 in Shanghai: the last working days before National Day.
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)


def shanghai(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM' China time."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC) - timedelta(hours=8)


@dataclass(frozen=True)
class World:
    runtime: Runtime
    job_id: int
    other_job_id: int  # another team's job, also scheduling itself
    hr: HRPrincipal  # a recruiter of the job's team
    outsider: HRPrincipal  # a recruiter of the other team only
    application_ids: tuple[int, ...]
    other_application_id: int

    async def add_slot(
        self,
        starts: datetime,
        *,
        minutes: int = 60,
        capacity: int = 1,
        job_id: int | None = None,
        round: int = 2,
    ) -> int:
        async with self.runtime.transaction() as session:
            [slot] = await add_slots(
                session,
                self.hr if job_id is None or job_id == self.job_id else self.outsider,
                job_id or self.job_id,
                [SlotSpec(starts, starts + timedelta(minutes=minutes), capacity=capacity)],
                round=round,
                kind=InterviewKind.ONSITE,
                source=SlotSource.MANUAL,
                now=NOW,
            )
            return slot.id

    async def invite(self, application_id: int) -> int:
        async with self.runtime.transaction() as session:
            application = await session.get_one(Application, application_id)
            invitation = await service.invite(
                session, application, outreach_message_id=None, now=NOW
            )
            assert invitation is not None
            return invitation.id

    async def hold(self, invitation_id: int, slot_id: int, *, now: datetime = NOW) -> str:
        async with self.runtime.transaction() as session:
            invitation = await session.get_one(SchedulingInvitation, invitation_id)
            booking = await service.hold(session, invitation, slot_id, by="candidate", now=now)
            return booking.public_id

    async def confirm(
        self, invitation_id: int, public_id: str, *, now: datetime = NOW
    ) -> tuple[str, bool]:
        async with self.runtime.transaction() as session:
            invitation = await session.get_one(SchedulingInvitation, invitation_id)
            booking, changed = await service.confirm(
                session, invitation, public_id, by="candidate", now=now
            )
            return booking.public_id, changed

    async def book(self, invitation_id: int, slot_id: int, *, now: datetime = NOW) -> str:
        """Hold and confirm, as a candidate's two button presses do."""
        public_id = await self.hold(invitation_id, slot_id, now=now)
        confirmed, changed = await self.confirm(invitation_id, public_id, now=now)
        assert changed
        return confirmed

    async def booking(self, public_id: str) -> InterviewBooking:
        async with self.runtime.sessionmaker() as session:
            found = await session.scalar(
                select(InterviewBooking).where(InterviewBooking.public_id == public_id)
            )
            assert found is not None
            return found

    async def invitation(self, invitation_id: int) -> SchedulingInvitation:
        async with self.runtime.sessionmaker() as session:
            return await session.get_one(SchedulingInvitation, invitation_id)

    async def slot(self, slot_id: int) -> InterviewSlot:
        async with self.runtime.sessionmaker() as session:
            return await session.get_one(InterviewSlot, slot_id)

    async def events(self) -> list[WebhookEvent]:
        async with self.runtime.sessionmaker() as session:
            found = await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
            return list(found.all())

    async def live_bookings(self, slot_id: int) -> list[InterviewBooking]:
        async with self.runtime.sessionmaker() as session:
            found = await session.scalars(
                select(InterviewBooking)
                .where(
                    InterviewBooking.slot_id == slot_id,
                    InterviewBooking.state.in_(("held", "confirmed")),
                )
                .order_by(InterviewBooking.seat)
            )
            return list(found.all())

    async def double_booked_seats(self) -> list[tuple[int, int, int]]:
        """Every (slot, seat) live in more than one booking: always none."""
        async with self.runtime.sessionmaker() as session:
            rows = await session.execute(
                select(InterviewBooking.slot_id, InterviewBooking.seat, func.count())
                .where(InterviewBooking.state.in_(("held", "confirmed")))
                .group_by(InterviewBooking.slot_id, InterviewBooking.seat)
                .having(func.count() > 1)
            )
            return [(int(a), int(b), int(c)) for a, b, c in rows.all()]


async def build_world(
    runtime: Runtime,
    *,
    applications: int = 3,
    policy: bool = True,
    min_notice_hours: int = 2,
    move_cutoff_hours: int = 24,
    max_moves: int = 2,
    offer_count: int = 3,
) -> World:
    async with runtime.transaction() as session:
        team = await make_team(session, external_id="team-a")
        other_team = await make_team(session, external_id="team-b", name="招聘二组")
        hr_user = await make_hr_user(session, team=team)
        outsider_user = await make_hr_user(session, team=other_team)
        for n in range(applications):
            raw = application_created(
                event_id=f"app-{n}",
                application=f"ext-app-{n}",
                candidate=f"ext-cand-{n}",
                mobile=f"1380013{n:04d}",
                email=f"c{n}@example.com",
            )
            await accept_event(session, ATS_EVENT.validate_python(raw))
        other = application_created(
            event_id="app-other",
            application="ext-app-other",
            candidate="ext-cand-other",
            job="ext-job-2",
            team="team-b",
            mobile="13900139000",
            email="other@example.com",
        )
        await accept_event(session, ATS_EVENT.validate_python(other))
        rows = dict((await session.execute(select(Application.external_id, Application.id))).all())
        job_id = await session.scalar(
            select(Application.job_id).where(Application.external_id == "ext-app-0")
        )
        other_job_id = await session.scalar(
            select(Application.job_id).where(Application.external_id == "ext-app-other")
        )
        assert job_id is not None
        assert other_job_id is not None
        for job in (job_id, other_job_id) if policy else ():
            await service.set_policy(
                session,
                job,
                interview_kind=InterviewKind.ONSITE,
                min_notice_hours=min_notice_hours,
                move_cutoff_hours=move_cutoff_hours,
                max_moves=max_moves,
                offer_count=offer_count,
                preparation="带上身份证",
                actor="test",
            )
        hr = await load_principal(session, hr_user.id)
        outsider = await load_principal(session, outsider_user.id)
        assert hr is not None
        assert outsider is not None
    return World(
        runtime=runtime,
        job_id=job_id,
        other_job_id=other_job_id,
        hr=hr,
        outsider=outsider,
        application_ids=tuple(rows[f"ext-app-{n}"] for n in range(applications)),
        other_application_id=rows["ext-app-other"],
    )


@pytest.fixture
async def booking_world(runtime: Runtime) -> World:
    return await build_world(runtime)


def starts(offers: Sequence[service.Offer]) -> list[datetime]:
    return [offer.slot.starts_at for offer in offers]
