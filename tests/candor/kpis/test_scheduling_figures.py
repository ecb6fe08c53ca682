"""The self-scheduling KPIs on a hand-written history: time from invitation to booking,
self-service share, reschedules and no-shows, for the company, a job, a team's recruiter,
per team, in the CSV export and over the API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.kpis.export import report_csv
from candor.models import Application, Candidate, Job
from candor.models.enums import InterviewKind, Role, Stage
from candor.models.scheduling import (
    Attendance,
    BookingState,
    InterviewBooking,
    InterviewSlot,
    InvitationState,
    SchedulingInvitation,
    SlotSource,
)
from candor.runtime import Runtime
from tests.candor.kpis.history import History, local, report
from tests.outreach_world import World, hr

HR = "user:1"


@dataclass
class _Writer:
    session: AsyncSession
    n: int = 100

    async def invitation(
        self,
        job: Job,
        invited: datetime,
        booked: datetime | None = None,
        *,
        by: str = "candidate",
        slots: tuple[datetime, ...] = (),
        moved_at: tuple[tuple[datetime, str], ...] = (),
        attendance: Attendance | None = None,
    ) -> None:
        """An application of `job` invited at `invited`, first booked at `booked` into the
        first of `slots`, moved into each next one (at, by), attended as `attendance`."""
        self.n += 1
        candidate = Candidate(external_id=f"sched-c{self.n}", name="候选人")
        self.session.add(candidate)
        await self.session.flush()
        application = Application(
            code=f"AP-2026-{self.n:06d}",
            external_id=f"sched-app-{self.n}",
            candidate_id=candidate.id,
            job_id=job.id,
            stage=Stage.AI_INTERVIEW,
            applied_at=invited - timedelta(days=3),
            result_version=1,
        )
        self.session.add(application)
        await self.session.flush()
        invitation = SchedulingInvitation(
            application_id=application.id,
            job_id=job.id,
            round=2,
            kind=InterviewKind.ONSITE,
            state=InvitationState.BOOKED if booked else InvitationState.OPEN,
            token=secrets.token_urlsafe(16),
            invited_at=invited,
            first_booked_at=booked,
            booked_by_candidate=None if booked is None else by == "candidate",
            moves=len(moved_at),
        )
        self.session.add(invitation)
        await self.session.flush()
        previous: InterviewBooking | None = None
        for index, starts_at in enumerate(slots):
            slot = InterviewSlot(
                job_id=job.id,
                round=2,
                kind=InterviewKind.ONSITE,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                capacity=1,
                source=SlotSource.MANUAL,
                created_by=HR,
            )
            self.session.add(slot)
            await self.session.flush()
            last = index == len(slots) - 1
            confirmed_at = booked if index == 0 else moved_at[index - 1][0]
            booking = InterviewBooking(
                public_id=secrets.token_urlsafe(12),
                invitation_id=invitation.id,
                application_id=application.id,
                slot_id=slot.id,
                seat=1,
                state=BookingState.CONFIRMED if last else BookingState.MOVED,
                confirmed_at=confirmed_at,
                ended_at=None if last else moved_at[index][0],
                ended_by=None if last else moved_at[index][1],
                booked_by=by if index == 0 else moved_at[index - 1][1],
                attendance=attendance if last else None,
                created_at=confirmed_at,
            )
            self.session.add(booking)
            await self.session.flush()
            if previous is not None:
                previous.moved_to_id = booking.id
            previous = booking


async def write_scheduling_history(runtime: Runtime, history: History) -> None:
    """Six invitations around the history's range (see the figures below)."""
    a, b = history.job_a, history.job_b
    async with runtime.transaction() as session:
        w = _Writer(session)
        # Booked by the candidate after 6 hours; came.
        await w.invitation(
            a,
            local("03-02"),
            local("03-02", "16:00"),
            slots=(local("03-05", "14:00"),),
            attendance=Attendance.ATTENDED,
        )
        # Booked by HR after 24 hours, moved by the candidate on 03-06; did not come.
        await w.invitation(
            a,
            local("03-03"),
            local("03-04"),
            by=HR,
            slots=(local("03-07"), local("03-10")),
            moved_at=((local("03-06"), "candidate"),),
            attendance=Attendance.NO_SHOW,
        )
        # Job B: booked by the candidate after 2 hours, moved by HR on 03-07.
        await w.invitation(
            b,
            local("03-04"),
            local("03-04", "12:00"),
            slots=(local("03-09"), local("03-12")),
            moved_at=((local("03-07"), HR),),
        )
        await w.invitation(a, local("03-10"))  # not booked
        # Invited before the range, booked in it after 9 days; the interview is after it.
        await w.invitation(
            a,
            local("02-20"),
            local("03-01"),
            slots=(local("03-21"),),
            attendance=Attendance.NO_SHOW,
        )
        await w.invitation(b, local("03-15"), local("03-21"), slots=(local("03-24"),))


async def test_the_scheduling_figures_of_the_company(runtime: Runtime, history: History) -> None:
    await write_scheduling_history(runtime, history)

    figures = (await report(runtime, history.filters())).figures.scheduling

    assert figures.invitations == 5  # the one invited on 02-20 is before the range
    assert figures.booked == 4  # 6 h, 24 h, 2 h and 216 h; the 03-21 booking is after it
    assert figures.time_to_booking_median_hours == pytest.approx(6)
    assert figures.time_to_booking_p90_hours == pytest.approx(216)
    assert figures.booked_by_candidate == 3
    assert figures.self_service_share == pytest.approx(0.75)
    assert (figures.reschedules, figures.reschedules_by_candidate) == (2, 1)
    # Interviews in the range with attendance recorded: one came, one did not; the no-show
    # of 03-21 is after the range.
    assert (figures.attendance_recorded, figures.no_shows) == (2, 1)
    assert figures.no_show_rate == pytest.approx(0.5)


async def test_hr_booking_someone_never_invited_adds_no_wait(
    runtime: Runtime, history: History
) -> None:
    """`hr_book` opens the invitation and books in the same moment: that booking counts,
    but its 0 hours are not a candidate's wait."""
    async with runtime.transaction() as session:
        w = _Writer(session)
        await w.invitation(history.job_a, local("03-02"), local("03-02", "16:00"))
        await w.invitation(history.job_a, local("03-03"), local("03-03"), by=HR)

    figures = (await report(runtime, history.filters())).figures.scheduling

    assert (figures.invitations, figures.booked, figures.booked_by_candidate) == (2, 2, 1)
    assert figures.time_to_booking_median_hours == pytest.approx(6)


async def test_the_scheduling_figures_by_job_recruiter_and_team(
    runtime: Runtime, history: History
) -> None:
    await write_scheduling_history(runtime, history)
    recruiter = HRPrincipal(
        user_id=history.recruiter_a.id, role=Role.RECRUITER, team_ids=frozenset({history.team_a.id})
    )

    job_b = (await report(runtime, history.filters(job_id=history.job_b.id))).figures.scheduling
    team_a = (await report(runtime, history.filters(), recruiter)).figures.scheduling
    compared = await report(runtime, history.filters(), compare=True)

    assert (job_b.invitations, job_b.booked, job_b.time_to_booking_median_hours) == (2, 1, 2)
    assert (job_b.self_service_share, job_b.reschedules, job_b.reschedules_by_candidate) == (
        1.0,
        1,
        0,
    )
    assert (job_b.attendance_recorded, job_b.no_show_rate) == (0, None)
    # Team A's recruiter sees only team A's job.
    assert (team_a.invitations, team_a.booked, team_a.booked_by_candidate) == (3, 3, 2)
    assert (team_a.reschedules, team_a.no_shows) == (1, 1)
    teams = {t.team_id: t.figures.scheduling for t in compared.teams}
    assert teams[history.team_a.id] == team_a
    assert teams[history.team_b.id] == job_b
    # The export carries them.
    csv = report_csv(compared)
    assert "all,scheduling.self_service_share,0.7500" in csv
    assert f"team:{history.team_b.id},scheduling.reschedules,1" in csv


async def test_the_api_reports_the_scheduling_figures(api: httpx.AsyncClient, world: World) -> None:
    answer = await api.get(
        "/api/v1/kpis",
        params={"from": "2026-03-01", "to": "2026-03-31"},
        headers=hr(world.recruiter_token),
    )

    assert answer.status_code == 200
    assert answer.json()["figures"]["scheduling"] == {
        "invitations": 0,
        "booked": 0,
        "time_to_booking_median_hours": None,
        "time_to_booking_p90_hours": None,
        "booked_by_candidate": 0,
        "self_service_share": None,
        "reschedules": 0,
        "reschedules_by_candidate": 0,
        "attendance_recorded": 0,
        "no_shows": 0,
        "no_show_rate": None,
    }
