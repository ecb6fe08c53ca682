"""iCalendar both ways (`candor.scheduling.ics`): HR's feed file read into slots, and the
`.ics` a confirmation carries, read back with the `icalendar` package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from candor.models.enums import InterviewKind
from candor.models.scheduling import InterviewSlot, SlotSource
from candor.runtime import Runtime
from candor.scheduling.errors import InvalidSlotError
from candor.scheduling.ics import MAX_FEED_BYTES, booking_ics, parse_feed
from candor.scheduling.slots import add_slots
from tests.candor.scheduling.conftest import NOW, World, shanghai

FEED = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example Corp//Calendar//EN\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:STANDARD\r
DTSTART:20261101T020000\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:utc-1@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261008T020000Z\r
DTEND:20261008T030000Z\r
SUMMARY:Interview slot\r
LOCATION:北京市海淀区 3 号楼 501\r
URL:https://meeting.example.com/j/42\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:ny-1@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART;TZID=America/New_York:20261008T210000\r
DTEND;TZID=America/New_York:20261008T213000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:floating-1@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261009T140000\r
DURATION:PT45M\r
URL:ftp://not-a-meeting.example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:no-end@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261009T160000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:all-day@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART;VALUE=DATE:20261012\r
DTEND;VALUE=DATE:20261013\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cancelled@corp\r
DTSTAMP:20260901T000000Z\r
STATUS:CANCELLED\r
DTSTART:20261013T020000Z\r
DTEND:20261013T030000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261014T020000Z\r
DTEND:20261014T030000Z\r
RRULE:FREQ=WEEKLY;COUNT=4\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261015T020000Z\r
DTEND:20261015T030000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utc-1@corp\r
RECURRENCE-ID:20261008T020000Z\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261008T060000Z\r
DTEND:20261008T070000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:backwards@corp\r
DTSTAMP:20260901T000000Z\r
DTSTART:20261016T030000Z\r
DTEND:20261016T020000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_feed_gives_its_timed_events_and_says_why_it_skipped_the_rest() -> None:
    specs, skipped = parse_feed(FEED.encode(), capacity=2)
    by_uid = {spec.external_uid: spec for spec in specs}
    assert list(by_uid) == ["utc-1@corp", "ny-1@corp", "floating-1@corp", "no-end@corp"]

    utc = by_uid["utc-1@corp"]
    assert utc.starts_at == datetime(2026, 10, 8, 2, tzinfo=UTC)
    assert utc.ends_at == datetime(2026, 10, 8, 3, tzinfo=UTC)
    assert utc.location == "北京市海淀区 3 号楼 501"
    assert utc.video_link == "https://meeting.example.com/j/42"
    assert utc.capacity == 2
    assert utc.time_zone == "Asia/Shanghai"
    # 21:00 in New York (EDT, UTC-4) is 01:00 UTC the next day, 09:00 in China.
    ny = by_uid["ny-1@corp"]
    assert ny.starts_at == datetime(2026, 10, 9, 1, tzinfo=UTC)
    assert ny.ends_at - ny.starts_at == timedelta(minutes=30)
    # A time without a zone is read in the default zone (China time).
    floating = by_uid["floating-1@corp"]
    assert floating.starts_at == shanghai("2026-10-09 14:00")
    assert floating.ends_at == shanghai("2026-10-09 14:45")  # DURATION
    assert floating.video_link is None  # not an http(s) address
    assert by_uid["no-end@corp"].ends_at - by_uid["no-end@corp"].starts_at == timedelta(hours=1)

    assert len(skipped) == 6
    reasons = "\n".join(skipped)
    assert "all-day@corp" in reasons
    assert "all-day" in reasons
    assert "cancelled@corp): cancelled" in reasons
    assert "weekly@corp): recurring" in reasons
    assert "no UID" in reasons
    assert "backwards@corp): ends before it starts" in reasons
    assert "utc-1@corp): repeats the UID of an earlier event" in reasons


def test_a_feed_read_in_another_default_zone() -> None:
    specs, _ = parse_feed(FEED.encode(), default_zone="Europe/London")
    floating = next(s for s in specs if s.external_uid == "floating-1@corp")
    assert floating.starts_at == datetime(2026, 10, 9, 13, tzinfo=UTC)  # 14:00 BST
    assert floating.time_zone == "Europe/London"
    with pytest.raises(InvalidSlotError) as error:
        parse_feed(FEED.encode(), default_zone="Atlantis/Central")
    assert error.value.code == "invalid_time_zone"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not a calendar",
        b"\xff\xfe\x00garbage",
        b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
        b"x" * (MAX_FEED_BYTES + 1),
    ],
    ids=["empty", "text", "binary", "no-calendar", "unterminated", "too-large"],
)
def test_a_file_that_is_not_icalendar_is_refused_as_invalid_ics(data: bytes) -> None:
    with pytest.raises(InvalidSlotError) as error:
        parse_feed(data)
    assert error.value.code == "invalid_ics"
    assert error.value.http_status == 422


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_give_slots_or_invalid_ics_never_a_crash(data: bytes) -> None:
    try:
        parse_feed(data)
    except InvalidSlotError as error:
        code = error.code
    else:
        code = "invalid_ics"
    assert code == "invalid_ics"


LINE = st.sampled_from(
    [
        "UID:u-{n}@corp",
        "DTSTART:202610{d:02d}T0{h}0000Z",
        "DTEND:202610{d:02d}T0{h}3000Z",
        "DTSTART;VALUE=DATE:202610{d:02d}",
        "DTSTART;TZID=Europe/London:202610{d:02d}T0{h}0000",
        "DTSTART;TZID=No/Such:202610{d:02d}T0{h}0000",
        "DURATION:PT{h}H",
        "DURATION:nonsense",
        "STATUS:CANCELLED",
        "RRULE:FREQ=DAILY",
        "LOCATION:会议室 {n}",
        "URL:https://m.example.com/{n}",
        "DTEND:garbage",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(LINE, st.integers(1, 28), st.integers(0, 9)), max_size=8),
        max_size=5,
    )
)
def test_any_mix_of_event_lines_gives_slots_or_invalid_ics(
    events: list[list[tuple[str, int, int]]],
) -> None:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    for n, event in enumerate(events):
        lines.append("BEGIN:VEVENT")
        lines += [template.format(n=n, d=d, h=h) for template, d, h in event]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    try:
        specs, skipped = parse_feed("\r\n".join(lines).encode())
    except InvalidSlotError as error:
        code = error.code
        assert code == "invalid_ics"
        return
    assert len(specs) + len(skipped) == len(events)
    for spec in specs:
        assert spec.starts_at.tzinfo is not None
        assert spec.ends_at > spec.starts_at
        assert spec.external_uid


# -- The confirmation's .ics -------------------------------------------------------------------


def slot_at(starts: datetime, **fields: object) -> InterviewSlot:
    return InterviewSlot(
        job_id=1,
        round=2,
        kind=InterviewKind.ONSITE,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        capacity=1,
        interviewers=[],
        time_zone="Asia/Shanghai",
        source=SlotSource.MANUAL,
        created_by="test",
        **fields,
    )


def read_back(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_the_booking_ics_reads_back_in_utc_with_its_place() -> None:
    slot = slot_at(shanghai("2026-10-08 10:00"), location="北京市海淀区 3 号楼 501")
    data = booking_ics(
        slot,
        booking_id="bk-123",
        title="二面：后端工程师",
        description="请带上身份证。",
        now=NOW,
    )
    calendar, event = read_back(data)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(event["uid"]) == "bk-123@candor"  # type: ignore[index]
    start = event["dtstart"].dt  # type: ignore[index]
    end = event["dtend"].dt  # type: ignore[index]
    assert start == datetime(2026, 10, 8, 2, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)
    assert end - start == timedelta(minutes=45)
    assert str(event["location"]) == "北京市海淀区 3 号楼 501"  # type: ignore[index]
    assert str(event["summary"]) == "二面：后端工程师"  # type: ignore[index]
    assert str(event["description"]) == "请带上身份证。"  # type: ignore[index]
    assert str(event["status"]) == "CONFIRMED"  # type: ignore[index]
    assert "url" not in event  # type: ignore[operator]
    assert b"DTSTART:20261008T020000Z" in data


def test_a_cancellation_ics_names_the_same_event_with_method_cancel() -> None:
    slot = slot_at(
        shanghai("2026-10-08 10:00"),
        location="3 号楼",
        video_link="https://meeting.example.com/j/42",
    )
    data = booking_ics(
        slot,
        booking_id="bk-123",
        title="二面",
        description="",
        cancelled=True,
        sequence=1,
        now=NOW,
    )
    calendar, event = read_back(data)
    assert str(calendar["method"]) == "CANCEL"
    assert str(event["uid"]) == "bk-123@candor"  # type: ignore[index]
    assert str(event["status"]) == "CANCELLED"  # type: ignore[index]
    assert int(event["sequence"]) == 1  # type: ignore[index]
    # A video interview's place is its link.
    assert str(event["location"]) == "https://meeting.example.com/j/42"  # type: ignore[index]
    assert str(event["url"]) == "https://meeting.example.com/j/42"  # type: ignore[index]
    assert "description" not in event  # type: ignore[operator]


async def test_an_imported_slot_comes_back_out_at_the_same_instant(
    booking_world: World, runtime: Runtime
) -> None:
    """Feed → stored slot → confirmation .ics: the instant survives both databases."""
    specs, _ = parse_feed(FEED.encode())
    async with runtime.transaction() as session:
        slots = await add_slots(
            session,
            booking_world.hr,
            booking_world.job_id,
            specs,
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.ICS,
            now=NOW,
        )
        ids = [slot.id for slot in slots]
    for spec, slot_id in zip(specs, ids, strict=True):
        stored = await booking_world.slot(slot_id)
        _, event = read_back(
            booking_ics(stored, booking_id="b", title="t", description="", now=NOW)
        )
        assert event["dtstart"].dt == spec.starts_at  # type: ignore[index]
        assert event["dtend"].dt == spec.ends_at  # type: ignore[index]
