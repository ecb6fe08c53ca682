"""A candidate's copy of their data holds their zone and the interview times they booked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from candor.auth.scope import candidate_own_data
from candor.clock import utcnow
from candor.models import Candidate
from candor.privacy.export import build_export, iso
from candor.scheduling import service as scheduling
from tests.candor.scheduling.flow_world import add_slot, book, enable_booking, recruiter
from tests.outreach_world import World


async def test_the_export_lists_the_booked_moved_and_cancelled_interview_times(
    world: World,
) -> None:
    await world.applicant(1)
    job_id = await enable_booking(world, 1)
    now = utcnow()
    first = await add_slot(world, job_id, now + timedelta(days=3))
    second = await add_slot(
        world, job_id, now + timedelta(days=4), video_link="https://v.example/1"
    )
    await book(world, 1, first, now=now)
    moved = await book(world, 1, second, now=now)
    async with world.runtime.transaction() as session:
        await scheduling.hr_cancel(session, recruiter(world), moved.public_id, reason=None, now=now)
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
        candidate.time_zone = "Europe/Berlin"

    async with world.runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
        copy = await build_export(session, candidate, candidate_own_data(), now=now)

    assert copy["profile"]["time_zone"] == "Europe/Berlin"
    bookings = copy["applications"][0]["interview_bookings"]
    assert [(b["state"], b["starts_at"], b["booked_by"]) for b in bookings] == [
        ("moved", iso(now + timedelta(days=3)), "candidate"),
        ("cancelled", iso(now + timedelta(days=4)), "candidate"),
    ]
    assert bookings[1]["video_link"] == "https://v.example/1"
