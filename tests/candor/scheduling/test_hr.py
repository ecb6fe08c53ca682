"""HR's side of the calendar that the API and console share: importing a feed again."""

from __future__ import annotations

from sqlalchemy import select

from candor.models import InterviewSlot
from candor.scheduling import hr
from tests.candor.scheduling.conftest import NOW, World, shanghai


def feed(uid: str, start: str, end: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;TZID=Asia/Shanghai:{start}\r\n"
        f"DTEND;TZID=Asia/Shanghai:{end}\r\nLOCATION:3 号楼\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


async def import_feed(booking_world: World, data: bytes, *, capacity: int = 2) -> hr.ImportReport:
    async with booking_world.runtime.transaction() as session:
        return await hr.import_feed(
            session,
            booking_world.hr,
            booking_world.job_id,
            data,
            round=None,
            kind=None,
            capacity=capacity,
            time_zone="Asia/Shanghai",
            now=NOW,
        )


async def test_a_booked_slot_is_not_changed_by_importing_its_feed_again(
    booking_world: World,
) -> None:
    """Its time changes only through a move, which tells the candidate and the ATS."""
    first = await import_feed(booking_world, feed("uid-1", "20260929T100000", "20260929T110000"))
    assert (first.added, first.updated) == (1, 0)
    async with booking_world.runtime.sessionmaker() as session:
        slot_id = await session.scalar(
            select(InterviewSlot.id).where(InterviewSlot.external_uid == "uid-1")
        )
    assert slot_id is not None
    invitation = await booking_world.invite(booking_world.application_ids[0])
    await booking_world.book(invitation, slot_id)

    moved = await import_feed(
        booking_world, feed("uid-1", "20260930T100000", "20260930T110000"), capacity=1
    )

    assert (moved.added, moved.updated) == (0, 0)
    assert any("uid-1" in reason and "booked" in reason for reason in moved.skipped)
    slot = await booking_world.slot(slot_id)
    assert slot.starts_at == shanghai("2026-09-29 10:00")
    assert slot.capacity == 2
    assert [e.type.value for e in await booking_world.events()] == ["interview.booked"]
