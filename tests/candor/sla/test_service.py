"""The calendar in the database, on SQLite and PostgreSQL: loads, overrides, the cache."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from candor.models import CalendarChange, CalendarDay, CalendarYear
from candor.models.calendar import OverrideKind
from candor.runtime import Runtime
from candor.sla import service
from candor.sla.calendar import DayKind, WorkingCalendar
from candor.sla.errors import (
    CalendarNotFoundError,
    InvalidCalendarInputError,
    InvalidScheduleError,
)
from candor.sla.schedule import YearSchedule, parse_schedule


def schedule_2027(**changes: Any) -> YearSchedule:
    """Test data for 2027, not the official schedule."""
    return YearSchedule.model_validate(
        {
            "year": 2027,
            "reference": "test",
            "holidays": [
                {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
                {"name": "test holiday", "dates": ["2027-01-04"]},
            ],
            "workdays": [{"name": "test make-up", "dates": ["2027-01-09"]}],
            **changes,
        }
    )


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def calendar(runtime: Runtime) -> WorkingCalendar:
    async with runtime.sessionmaker() as session:
        return await service.current_calendar(session)


async def test_an_empty_database_gives_the_package_calendar(runtime: Runtime) -> None:
    loaded = await calendar(runtime)

    assert loaded.coverage_end() == date(2026, 12, 31)
    assert loaded.revision == 0
    assert loaded.due_at(datetime.fromisoformat("2026-12-30T10:00:00+08:00")).estimated


async def test_loading_2027_makes_deadlines_exact_and_uses_the_schedule(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        loaded = await service.load_year(session, schedule_2027(), source="file:test.yaml")

    current = await calendar(runtime)
    deadline = current.due_at(datetime.fromisoformat("2026-12-30T10:00:00+08:00"))

    assert (loaded.holidays, loaded.workdays, loaded.replaced) == (4, 1, 0)
    assert current.coverage_end() == date(2027, 12, 31)
    assert deadline.due_at.isoformat() == "2027-01-08T23:59:59+08:00"
    assert not deadline.estimated
    assert current.day(date(2027, 1, 4)).source == "file:test.yaml"
    assert current.day(date(2027, 1, 9)).kind is DayKind.MAKEUP_WORKDAY
    assert await count(runtime, CalendarYear) == 1
    assert await count(runtime, CalendarChange) == 1


async def test_reloading_a_year_replaces_its_entries(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await service.set_day(
            session, date(2027, 3, 1), kind=OverrideKind.HOLIDAY, name="stale", source="t"
        )
        await service.load_year(session, schedule_2027(), source="first")
    async with runtime.transaction() as session:
        second = await service.load_year(
            session,
            schedule_2027(holidays=[{"name": "元旦", "dates": ["2027-01-01"]}], workdays=[]),
            source="second",
        )

    current = await calendar(runtime)
    assert second.replaced == 5
    assert await count(runtime, CalendarDay) == 1
    assert current.day(date(2027, 1, 4)).working
    assert current.day(date(2027, 3, 1)).working
    assert current.admin_years[2027].source == "second"


async def test_an_admin_year_replaces_the_package_data(runtime: Runtime) -> None:
    national_day_only = parse_schedule(
        {
            "year": 2026,
            "holidays": [{"name": "National Day", "from": "2026-10-01", "to": "2026-10-07"}],
        }
    )
    async with runtime.transaction() as session:
        await service.load_year(session, national_day_only, source="t")

    current = await calendar(runtime)
    assert current.day(date(2026, 2, 16)).working  # the package's Spring Festival is gone
    assert not current.day(date(2026, 10, 5)).working


async def test_an_invalid_schedule_writes_nothing(runtime: Runtime) -> None:
    bad = schedule_2027(workdays=[{"name": "x", "dates": ["2027-01-05"]}])  # a Tuesday

    with pytest.raises(InvalidScheduleError, match="Tuesday"):
        async with runtime.transaction() as session:
            await service.load_year(session, bad, source="t")
    with pytest.raises(InvalidScheduleError, match="not 2028"):
        async with runtime.transaction() as session:
            await service.load_year(session, schedule_2027(), source="t", year=2028)

    assert await count(runtime, CalendarDay) == 0
    assert await count(runtime, CalendarYear) == 0
    assert await count(runtime, CalendarChange) == 0


async def test_an_override_wins_over_package_data_and_the_cache_follows(
    runtime: Runtime,
) -> None:
    before = await calendar(runtime)
    assert await calendar(runtime) is before  # unchanged revision: the cached object

    async with runtime.transaction() as session:
        info = await service.set_day(
            session, date(2025, 10, 9), kind=OverrideKind.HOLIDAY, name="公司假", source="t"
        )
    after = await calendar(runtime)

    assert info.kind is DayKind.HOLIDAY
    assert after is not before
    assert after.revision == before.revision + 1
    assert not after.day(date(2025, 10, 9)).working
    due = after.due_at(datetime.fromisoformat("2025-09-30T10:00:00+08:00"))
    assert due.due_on == date(2025, 10, 15)

    async with runtime.transaction() as session:
        info = await service.set_day(
            session, date(2025, 10, 9), kind=OverrideKind.WORKDAY, name="again", source="t"
        )
    assert info.kind is DayKind.WORKDAY
    assert (await calendar(runtime)).day(date(2025, 10, 9)).name == "again"
    assert await count(runtime, CalendarDay) == 1


async def test_a_rolled_back_write_never_reaches_the_cache(runtime: Runtime) -> None:
    async def write_then_fail() -> None:
        async with runtime.transaction() as session:
            await service.set_day(
                session, date(2025, 10, 9), kind=OverrideKind.HOLIDAY, name="x", source="t"
            )
            raise RuntimeError("roll back")

    await calendar(runtime)
    with pytest.raises(RuntimeError):
        await write_then_fail()

    assert (await calendar(runtime)).day(date(2025, 10, 9)).working


async def test_deleting_an_override_falls_back_to_the_package(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await service.set_day(
            session, date(2025, 10, 1), kind=OverrideKind.WORKDAY, name="x", source="t"
        )
    async with runtime.transaction() as session:
        info = await service.delete_day(session, date(2025, 10, 1), source="t")

    assert (info.kind, info.name) == (DayKind.HOLIDAY, "National Day")
    with pytest.raises(CalendarNotFoundError):
        async with runtime.transaction() as session:
            await service.delete_day(session, date(2025, 10, 1), source="t")
    assert await count(runtime, CalendarChange) == 2


async def test_deleting_a_year_forgets_its_schedule(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await service.load_year(session, schedule_2027(), source="t")
    async with runtime.transaction() as session:
        removed = await service.delete_year(session, 2027, source="t")

    assert removed == 5
    assert (await calendar(runtime)).coverage_end() == date(2026, 12, 31)
    with pytest.raises(CalendarNotFoundError):
        async with runtime.transaction() as session:
            await service.delete_year(session, 2027, source="t")


async def test_bad_override_input_is_refused(runtime: Runtime) -> None:
    for day, name in ((date(1800, 1, 1), "x"), (date(2027, 1, 1), "  ")):
        with pytest.raises(InvalidCalendarInputError):
            async with runtime.transaction() as session:
                await service.set_day(
                    session, day, kind=OverrideKind.HOLIDAY, name=name, source="t"
                )
    assert await count(runtime, CalendarDay) == 0
