"""The ATS hears of every booking, move and cancellation, and Candor's own ATS data holds
the booked interview, so the progress answer in chat names it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from candor.clock import utcnow
from candor.dialogue.queries import Progress, progress
from candor.models import Application, WebhookEvent
from candor.models.webhooks import WebhookEventType
from candor.scheduling import service as scheduling
from tests.candor.scheduling.flow_world import add_slot, book, enable_booking, recruiter
from tests.dialogue_world import result_sent
from tests.outreach_world import World

DOCS = Path(__file__).resolve().parents[3] / "docs" / "ats-integration.md"


async def _progress(world: World) -> Progress:
    async with world.runtime.sessionmaker() as session:
        application = await session.scalar(
            select(Application)
            .where(Application.external_id == "app-1")
            .options(selectinload(Application.interviews))
        )
        assert application is not None
        return await progress(session, application, world.runtime.settings)


async def _events(world: World) -> list[dict[str, object]]:
    async with world.runtime.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(WebhookEvent)
                .where(
                    WebhookEvent.type.in_(
                        (
                            WebhookEventType.INTERVIEW_BOOKED,
                            WebhookEventType.INTERVIEW_MOVED,
                            WebhookEventType.INTERVIEW_CANCELLED,
                        )
                    )
                )
                .order_by(WebhookEvent.id)
            )
        ).all()
    return [{"type": row.type.value, **row.payload["data"]} for row in rows]


async def test_progress_names_the_booked_interview_through_a_move_until_it_is_cancelled(
    world: World,
) -> None:
    await world.applicant(1, preferred_channels=["email"])
    job_id = await enable_booking(world, 1)
    await result_sent(world, 1, "advance")
    now = utcnow()
    first = await add_slot(world, job_id, now + timedelta(days=3))
    second = await add_slot(
        world, job_id, now + timedelta(days=4), video_link="https://meet.example/x"
    )

    booked = await book(world, 1, first, now=now)
    answer = await _progress(world)
    assert answer.last_event == "interview_scheduled"
    assert answer.next_interview is not None
    external_id = answer.next_interview.external_id
    assert external_id.startswith("candor-booking-")
    assert answer.next_interview.scheduled_at == now + timedelta(days=3)

    moved = await book(world, 1, second, now=now)
    answer = await _progress(world)
    assert answer.next_interview is not None
    assert answer.next_interview.external_id == external_id  # the same interview, moved
    assert answer.next_interview.scheduled_at == now + timedelta(days=4)

    application = await world.application(1)
    async with world.runtime.transaction() as session:
        await scheduling.hr_cancel(
            session, recruiter(world), moved.public_id, reason="面试官出差", now=now
        )
    answer = await _progress(world)
    assert answer.next_interview is None
    assert answer.last_event != "interview_scheduled"

    events = await _events(world)
    assert [(e["type"], e["booking_id"], e["by"]) for e in events] == [
        ("interview.booked", booked.public_id, "candidate"),
        ("interview.moved", moved.public_id, "candidate"),
        ("interview.cancelled", moved.public_id, "hr"),
    ]
    assert {e["interview_external_id"] for e in events} == {external_id}
    assert {e["application_external_id"] for e in events} == {application.external_id}
    assert events[1]["previous_starts_at"] == events[0]["starts_at"]
    assert events[1]["video_link"] == "https://meet.example/x"
    assert events[2]["reason"] == "面试官出差"


def test_every_webhook_event_type_is_documented_for_the_ats() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [t.value for t in WebhookEventType if f"| `{t.value}` |" not in text]
    assert missing == []
