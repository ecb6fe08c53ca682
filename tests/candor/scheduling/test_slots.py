"""HR's availability (`candor.scheduling.slots`): weekly windows on China's working days in
the interviewers' zone, slots checked before any is written, ICS UIDs updated in place."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from candor.clock import BUSINESS_TZ
from candor.models.audit import AuditEntry
from candor.models.enums import InterviewKind
from candor.models.scheduling import InterviewSlot, SlotSource
from candor.runtime import Runtime
from candor.scheduling.errors import (
    BookingNotFoundError,
    ChangeNotAllowedError,
    InvalidSlotError,
    SlotNotFoundError,
)
from candor.scheduling.slots import (
    MAX_SLOTS_PER_CALL,
    WORKING_WEEK,
    SlotSpec,
    WeeklyWindow,
    add_slots,
    cancel_slot,
    weekly_specs,
)
from candor.sla.calendar import DayKind, WorkingCalendar
from candor.sla.service import current_calendar
from tests.candor.scheduling.conftest import NOW, World, shanghai

PACKAGE_CALENDAR = WorkingCalendar(overrides={}, admin_years={}, revision=0)


async def calendar_of(runtime: Runtime) -> WorkingCalendar:
    async with runtime.sessionmaker() as session:
        return await current_calendar(session)


def local_days(specs: list[SlotSpec], zone: str = "Asia/Shanghai") -> list[date]:
    return sorted({spec.starts_at.astimezone(ZoneInfo(zone)).date() for spec in specs})


# -- Weekly windows ---------------------------------------------------------------------------


async def test_a_working_week_window_skips_national_day_and_works_the_make_up_saturday(
    runtime: Runtime,
) -> None:
    calendar = await calendar_of(runtime)
    morning = WeeklyWindow(start=time(9), end=time(12), duration_minutes=60, capacity=2)
    specs = weekly_specs(calendar, [morning], date(2026, 9, 28), date(2026, 10, 11))

    assert local_days(specs) == [
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        # 1-7 October: National Day. Sunday 11 October: an ordinary weekend day.
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),  # the Saturday worked to make up for the holiday (调休)
    ]
    assert len(specs) == 6 * 3
    assert specs[0].starts_at == shanghai("2026-09-28 09:00")
    assert {spec.capacity for spec in specs} == {2}
    for spec in specs:
        assert calendar.is_working_day(spec.starts_at.astimezone(BUSINESS_TZ).date())


async def test_a_window_on_chosen_weekdays_keeps_to_them(runtime: Runtime) -> None:
    """Only a window over the whole working week runs on make-up Saturdays: HR's Tuesday
    and Thursday afternoons stay Tuesdays and Thursdays."""
    calendar = await calendar_of(runtime)
    window = WeeklyWindow(
        start=time(14), end=time(15), duration_minutes=60, weekdays=frozenset({1, 3})
    )
    specs = weekly_specs(calendar, [window], date(2026, 9, 28), date(2026, 10, 11))
    # Thursday 1 and Tuesday 6 October are National Day.
    assert local_days(specs) == [date(2026, 9, 29), date(2026, 10, 8)]


async def test_a_weekend_window_runs_on_weekends_but_not_on_holidays(runtime: Runtime) -> None:
    """A Saturday window is HR's choice to interview on Saturdays: it runs on ordinary
    Saturdays and on the make-up one, never on a Saturday of the National Day holiday."""
    calendar = await calendar_of(runtime)
    window = WeeklyWindow(
        start=time(10), end=time(11), duration_minutes=60, weekdays=frozenset({5})
    )
    specs = weekly_specs(calendar, [window], date(2026, 9, 19), date(2026, 10, 17))
    # Saturday 26 September is in the Mid-Autumn break and 3 October in National Day's;
    # 10 October is the make-up working Saturday.
    assert local_days(specs) == [
        date(2026, 9, 19),
        date(2026, 10, 10),
        date(2026, 10, 17),
    ]


async def test_slots_run_back_to_back_with_the_gap_between_them(runtime: Runtime) -> None:
    calendar = await calendar_of(runtime)
    day = date(2026, 10, 8)
    gapped = WeeklyWindow(start=time(9), end=time(12), duration_minutes=45, gap_minutes=20)
    tight = WeeklyWindow(start=time(14), end=time(15, 45), duration_minutes=30)
    specs = weekly_specs(calendar, [gapped, tight], day, day)

    def hhmm(moment: datetime) -> str:
        return moment.astimezone(BUSINESS_TZ).strftime("%H:%M")

    assert [(hhmm(s.starts_at), hhmm(s.ends_at)) for s in specs] == [
        ("09:00", "09:45"),
        ("10:05", "10:50"),
        ("11:10", "11:55"),
        ("14:00", "14:30"),
        ("14:30", "15:00"),
        ("15:00", "15:30"),  # 15:30-16:00 would end past the window
    ]


async def test_a_window_in_london_is_london_time_through_the_clock_change(
    runtime: Runtime,
) -> None:
    calendar = await calendar_of(runtime)
    london = WeeklyWindow(
        start=time(9),
        end=time(10),
        duration_minutes=60,
        time_zone="Europe/London",
        interviewers=("Alice",),
    )
    # British Summer Time ends on Sunday 25 October 2026.
    specs = weekly_specs(calendar, [london], date(2026, 10, 23), date(2026, 10, 26))
    assert [s.starts_at.astimezone(UTC) for s in specs] == [
        datetime(2026, 10, 23, 8, 0, tzinfo=UTC),  # 09:00 BST
        datetime(2026, 10, 26, 9, 0, tzinfo=UTC),  # 09:00 GMT
    ]
    assert {s.time_zone for s in specs} == {"Europe/London"}
    assert {s.interviewers for s in specs} == {("Alice",)}
    # In China those are 16:00 and 17:00 the same day: both working days there too.
    assert [s.starts_at.astimezone(BUSINESS_TZ).hour for s in specs] == [16, 17]


@pytest.mark.parametrize(
    ("window", "first", "last", "code"),
    [
        (WeeklyWindow(time(9), time(12), 60), date(2026, 10, 9), date(2026, 10, 8), "invalid_slot"),
        (WeeklyWindow(time(9), time(12), 60), date(2026, 1, 1), date(2027, 1, 3), "invalid_slot"),
        (WeeklyWindow(time(9), time(12), 4), date(2026, 10, 8), date(2026, 10, 8), "invalid_slot"),
        (WeeklyWindow(time(12), time(9), 60), date(2026, 10, 8), date(2026, 10, 8), "invalid_slot"),
        (
            WeeklyWindow(time(9), time(12), 60, weekdays=frozenset()),
            date(2026, 10, 8),
            date(2026, 10, 8),
            "invalid_slot",
        ),
        (
            WeeklyWindow(time(9), time(12), 60, weekdays=frozenset({7})),
            date(2026, 10, 8),
            date(2026, 10, 8),
            "invalid_slot",
        ),
        (
            WeeklyWindow(time(9), time(12), 60, time_zone="Mars/Olympus"),
            date(2026, 10, 8),
            date(2026, 10, 8),
            "invalid_time_zone",
        ),
    ],
    ids=["backwards", "over-a-year", "too-short", "ends-first", "no-day", "day-7", "zone"],
)
def test_a_wrong_window_is_refused_with_its_reason(
    window: WeeklyWindow, first: date, last: date, code: str
) -> None:
    with pytest.raises(InvalidSlotError) as error:
        weekly_specs(PACKAGE_CALENDAR, [window], first, last)
    assert error.value.code == code
    assert error.value.http_status == 422


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start_minute=st.integers(0, 22 * 60),
    length=st.integers(1, 12 * 60),
    duration=st.integers(5, 240),
    gap=st.integers(0, 60),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    first=st.dates(date(2025, 1, 1), date(2027, 12, 1)),
    days=st.integers(0, 40),
    zone=st.sampled_from(["Asia/Shanghai", "Europe/London", "America/New_York", "UTC"]),
)
def test_every_generated_slot_is_inside_its_window_and_never_on_a_holiday(
    start_minute: int,
    length: int,
    duration: int,
    gap: int,
    weekdays: frozenset[int],
    first: date,
    days: int,
    zone: str,
) -> None:
    end_minute = min(start_minute + length, 24 * 60 - 1)
    if end_minute <= start_minute:
        return
    window = WeeklyWindow(
        start=time(start_minute // 60, start_minute % 60),
        end=time(end_minute // 60, end_minute % 60),
        duration_minutes=duration,
        gap_minutes=gap,
        weekdays=weekdays,
        time_zone=zone,
    )
    last = first + timedelta(days=days)
    specs = weekly_specs(PACKAGE_CALENDAR, [window], first, last)
    tz = ZoneInfo(zone)
    previous: SlotSpec | None = None
    for spec in specs:
        local = spec.starts_at.astimezone(tz)
        day = local.date()
        assert first <= day <= last
        kind = PACKAGE_CALENDAR.day(day).kind
        assert kind is not DayKind.HOLIDAY
        assert day.weekday() in weekdays or (
            kind is DayKind.MAKEUP_WORKDAY and weekdays >= WORKING_WEEK
        )
        assert spec.ends_at - spec.starts_at == timedelta(minutes=duration)
        window_start = datetime.combine(day, window.start, tz)
        window_end = datetime.combine(day, window.end, tz)
        assert window_start <= spec.starts_at
        assert spec.ends_at <= window_end
        if previous is not None and previous.starts_at.astimezone(tz).date() == day:
            assert spec.starts_at - previous.ends_at == timedelta(minutes=gap)
        previous = spec


# -- Adding slots -----------------------------------------------------------------------------


async def add(booking_world: World, specs: list[SlotSpec], **options: object) -> list[int]:
    async with booking_world.runtime.transaction() as session:
        slots = await add_slots(
            session,
            options.pop("principal", booking_world.hr),  # type: ignore[arg-type]
            options.pop("job_id", booking_world.job_id),  # type: ignore[arg-type]
            specs,
            round=2,
            kind=InterviewKind.ONSITE,
            source=options.pop("source", SlotSource.MANUAL),  # type: ignore[arg-type]
            now=NOW,
        )
        return [slot.id for slot in slots]


async def slot_count(booking_world: World) -> int:
    async with booking_world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InterviewSlot)) or 0)


def spec(starts: str, **fields: object) -> SlotSpec:
    moment = shanghai(starts)
    return SlotSpec(starts_at=moment, ends_at=moment + timedelta(hours=1), **fields)  # type: ignore[arg-type]


async def test_slots_are_stored_as_given_and_audited(booking_world: World) -> None:
    [slot_id] = await add(
        booking_world,
        [
            spec(
                "2026-10-08 10:00",
                capacity=4,
                location="北京市海淀区 3 号楼",
                video_link="https://meeting.example.com/j/1",
                interviewers=("张三", "李四"),
                time_zone="Europe/London",
            )
        ],
    )
    slot = await booking_world.slot(slot_id)
    assert slot.starts_at == shanghai("2026-10-08 10:00")
    assert slot.capacity == 4
    assert slot.interviewers == ["张三", "李四"]
    assert slot.time_zone == "Europe/London"
    assert slot.source is SlotSource.MANUAL
    assert slot.created_by == booking_world.hr.actor
    async with booking_world.runtime.sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "scheduling.slots_created")
        )
    assert entry is not None
    assert entry.details == {"source": "manual", "count": 1, "round": 2}


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (spec("2026-09-28 09:00"), "slot_in_past"),  # an hour before NOW
        (spec("2026-10-08 10:00", capacity=0), "invalid_slot"),
        (spec("2026-10-08 10:00", capacity=501), "invalid_slot"),
        (spec("2026-10-08 10:00", time_zone="Nowhere/Land"), "invalid_time_zone"),
        (spec("2026-10-08 10:00", video_link="javascript:alert(1)"), "invalid_slot"),
        (
            SlotSpec(datetime(2026, 10, 8, 10), datetime(2026, 10, 8, 11)),  # no zone
            "invalid_slot",
        ),
        (
            SlotSpec(shanghai("2026-10-08 10:00"), shanghai("2026-10-08 10:00")),
            "invalid_slot",
        ),
    ],
    ids=["past", "no-seat", "too-many-seats", "zone", "link", "naive", "empty"],
)
async def test_one_wrong_slot_adds_none_of_the_batch(
    booking_world: World, bad: SlotSpec, code: str
) -> None:
    with pytest.raises(InvalidSlotError) as error:
        await add(booking_world, [spec("2026-10-08 09:00"), bad])
    assert error.value.code == code
    assert await slot_count(booking_world) == 0


async def test_an_empty_or_oversized_batch_or_foreign_job_is_refused(booking_world: World) -> None:
    with pytest.raises(InvalidSlotError) as empty:
        await add(booking_world, [])
    assert empty.value.code == "no_slots"
    with pytest.raises(InvalidSlotError):
        await add(booking_world, [spec("2026-10-08 10:00")] * (MAX_SLOTS_PER_CALL + 1))
    with pytest.raises(BookingNotFoundError):
        await add(booking_world, [spec("2026-10-08 10:00")], principal=booking_world.outsider)
    with pytest.raises(SlotNotFoundError) as unknown:
        await add(booking_world, [spec("2026-10-08 10:00")], job_id=10**9)
    assert unknown.value.code == "job_not_found"
    assert await slot_count(booking_world) == 0


async def test_an_ics_uid_seen_before_updates_its_slot(booking_world: World) -> None:
    [first] = await add(
        booking_world,
        [spec("2026-10-08 10:00", external_uid="evt-1@corp", location="A 座")],
        source=SlotSource.ICS,
    )
    again = await add(
        booking_world,
        [
            spec("2026-10-09 15:00", external_uid="evt-1@corp", location="B 座"),
            spec("2026-10-09 16:00", external_uid="evt-2@corp"),
        ],
        source=SlotSource.ICS,
    )
    assert again[0] == first
    with pytest.raises(InvalidSlotError) as twice:
        await add(
            booking_world,
            [
                spec("2026-10-09 15:00", external_uid="x"),
                spec("2026-10-09 16:00", external_uid="x"),
            ],
            source=SlotSource.ICS,
        )
    assert twice.value.code == "duplicate_uid"
    assert await slot_count(booking_world) == 2
    slot = await booking_world.slot(first)
    assert slot.starts_at == shanghai("2026-10-09 15:00")
    assert slot.location == "B 座"
    # Another job's feed may use the same UID: it is its own slot.
    async with booking_world.runtime.transaction() as session:
        [theirs] = await add_slots(
            session,
            booking_world.outsider,
            booking_world.other_job_id,
            [spec("2026-10-09 15:00", external_uid="evt-1@corp")],
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.ICS,
            now=NOW,
        )
        assert theirs.id not in again


async def test_a_slot_is_withdrawn_only_when_nobody_holds_or_booked_it(
    booking_world: World,
) -> None:
    invitation = await booking_world.invite(booking_world.application_ids[0])
    booked = await booking_world.add_slot(shanghai("2026-10-08 10:00"))
    free = await booking_world.add_slot(shanghai("2026-10-08 11:00"))
    await booking_world.book(invitation, booked)

    async def withdraw(slot_id: int, principal: object = None) -> InterviewSlot:
        async with booking_world.runtime.transaction() as session:
            return await cancel_slot(
                session,
                principal or booking_world.hr,  # type: ignore[arg-type]
                slot_id,
                now=NOW,
            )

    with pytest.raises(ChangeNotAllowedError):
        await withdraw(booked)
    with pytest.raises(BookingNotFoundError):
        await withdraw(free, booking_world.outsider)
    with pytest.raises(SlotNotFoundError):
        await withdraw(10**9)
    assert (await withdraw(free)).cancelled_at == NOW
    assert (await booking_world.slot(booked)).cancelled_at is None
