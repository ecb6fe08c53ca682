"""The calendar in the database: reading it (cached per process) and the admin's writes.

Every function takes the caller's session and flushes, never commits.

Caching: each process keeps the `WorkingCalendar` it last built, per database engine, tagged
with the calendar revision — the row count of the append-only `calendar_changes` log. A read
costs one `SELECT count(*)`; the calendar is rebuilt only when another change committed. The
count is read *before* the data, so a change committing in between makes the cache look
older than it is (one needless rebuild later), never newer. Writes are serialised (an
advisory lock on PostgreSQL, SQLite's single writer), and each appends one change row.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import BUSINESS_TZ, utcnow
from candor.logging import get_logger
from candor.models.calendar import CalendarChange, CalendarDay, CalendarYear, OverrideKind
from candor.sla.calendar import AdminYear, DayInfo, Override, WorkingCalendar
from candor.sla.errors import CalendarNotFoundError, InvalidCalendarInputError
from candor.sla.schedule import MAX_YEAR, MIN_YEAR, YearSchedule, require_valid

log = get_logger(__name__)

MAX_RANGE_DAYS = 366
# Any constant works: it only has to be the same in every process of this database.
_WRITE_LOCK_KEY = 0x63616C656E646172  # "calendar"

_cache: weakref.WeakKeyDictionary[Any, WorkingCalendar] = weakref.WeakKeyDictionary()


def business_today() -> date:
    return utcnow().astimezone(BUSINESS_TZ).date()


async def calendar_revision(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CalendarChange)) or 0)


async def load_calendar(session: AsyncSession) -> WorkingCalendar:
    """Build the calendar from the package data and the database, without the cache."""
    revision = await calendar_revision(session)  # first: see the module docstring
    days = (await session.scalars(select(CalendarDay))).all()
    years = (await session.scalars(select(CalendarYear))).all()
    return WorkingCalendar(
        overrides={row.day: Override(row.kind, row.name, row.source) for row in days},
        admin_years={row.year: AdminYear(row.year, row.source, row.reference) for row in years},
        revision=revision,
    )


async def current_calendar(session: AsyncSession) -> WorkingCalendar:
    """The process's cached calendar, rebuilt when the database's revision moved on.

    For reads only: a transaction that wrote calendar rows must use `load_calendar`, or
    the cache could keep data that is then rolled back.
    """
    key = session.bind
    revision = await calendar_revision(session)
    cached = _cache.get(key) if key is not None else None
    if cached is not None and cached.revision == revision:
        return cached
    calendar = await load_calendar(session)
    if key is not None:
        _cache[key] = calendar
    return calendar


def days_between(calendar: WorkingCalendar, start: date, end: date) -> list[DayInfo]:
    if end < start:
        raise InvalidCalendarInputError(f"'to' {end} is before 'from' {start}")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidCalendarInputError(f"ask for at most {MAX_RANGE_DAYS} days at a time")
    return list(calendar.days(start, end))


@dataclass(frozen=True, slots=True)
class YearLoaded:
    year: int
    holidays: int
    workdays: int
    replaced: int  # admin entries for that year that the load replaced


async def set_day(
    session: AsyncSession, day: date, *, kind: OverrideKind, name: str, source: str
) -> DayInfo:
    """Declare `day` a holiday or a working day; replaces an earlier override of it."""
    _check_year(day.year, what=str(day))
    source = _source(source)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidCalendarInputError("name: give 1 to 100 characters")
    await _serialise_writes(session)
    row = await session.scalar(select(CalendarDay).where(CalendarDay.day == day))
    if row is None:
        session.add(CalendarDay(day=day, kind=kind, name=name, source=source))
    else:
        row.kind, row.name, row.source = kind, name, source
    _record(
        session,
        "set_day",
        source,
        {"day": day.isoformat(), "kind": kind.value, "label": name},
    )
    await session.flush()
    log.info("calendar.day_set", day=day.isoformat(), kind=kind.value, source=source)
    return (await load_calendar(session)).day(day)


async def delete_day(session: AsyncSession, day: date, *, source: str) -> DayInfo:
    """Remove the override of `day`; the day falls back to the layers below it."""
    source = _source(source)
    await _serialise_writes(session)
    removed = await session.execute(
        delete(CalendarDay).where(CalendarDay.day == day).returning(CalendarDay.id)
    )
    if removed.first() is None:
        raise CalendarNotFoundError(f"{day} has no admin override")
    _record(session, "delete_day", source, {"day": day.isoformat()})
    await session.flush()
    log.info("calendar.day_deleted", day=day.isoformat(), source=source)
    return (await load_calendar(session)).day(day)


async def load_year(
    session: AsyncSession, schedule: YearSchedule, *, source: str, year: int | None = None
) -> YearLoaded:
    """Load a year's complete official schedule, replacing the admin's entries for that
    year; from then on the year is known (not estimated) and the package's data for it is
    no longer used."""
    require_valid(schedule, year=year)
    source = _source(source)
    days = schedule.expand()
    await _serialise_writes(session)
    first, last = date(schedule.year, 1, 1), date(schedule.year, 12, 31)
    replaced = await session.execute(
        delete(CalendarDay)
        .where(CalendarDay.day >= first, CalendarDay.day <= last)
        .returning(CalendarDay.id)
    )
    replaced_count = len(replaced.all())
    session.add_all(
        CalendarDay(day=day, kind=kind, name=name, source=source)
        for day, (kind, name) in sorted(days.items())
    )
    year_row = await session.get(CalendarYear, schedule.year)
    if year_row is None:
        session.add(CalendarYear(year=schedule.year, source=source, reference=schedule.reference))
    else:
        year_row.source, year_row.reference, year_row.loaded_at = (
            source,
            schedule.reference,
            utcnow(),
        )
    loaded = YearLoaded(
        year=schedule.year,
        holidays=sum(1 for kind, _ in days.values() if kind is OverrideKind.HOLIDAY),
        workdays=sum(1 for kind, _ in days.values() if kind is OverrideKind.WORKDAY),
        replaced=replaced_count,
    )
    _record(
        session,
        "load_year",
        source,
        {
            "year": schedule.year,
            "reference": schedule.reference,
            "holidays": loaded.holidays,
            "workdays": loaded.workdays,
            "replaced": replaced_count,
        },
    )
    await session.flush()
    log.info(
        "calendar.year_loaded",
        year=schedule.year,
        holidays=loaded.holidays,
        workdays=loaded.workdays,
        replaced=replaced_count,
        source=source,
    )
    return loaded


async def delete_year(session: AsyncSession, year: int, *, source: str) -> int:
    """Forget a loaded year: its schedule and every admin override dated in it. Returns the
    number of overrides removed; the year goes back to package data or the fallback."""
    source = _source(source)
    await _serialise_writes(session)
    row = await session.get(CalendarYear, year)
    if row is None:
        raise CalendarNotFoundError(f"no schedule was loaded for {year}")
    await session.delete(row)
    removed = await session.execute(
        delete(CalendarDay)
        .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        .returning(CalendarDay.id)
    )
    count = len(removed.all())
    _record(session, "delete_year", source, {"year": year, "removed": count})
    await session.flush()
    log.info("calendar.year_deleted", year=year, removed=count, source=source)
    return count


async def admin_years(session: AsyncSession) -> list[CalendarYear]:
    return list((await session.scalars(select(CalendarYear).order_by(CalendarYear.year))).all())


def _check_year(year: int, *, what: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidCalendarInputError(f"{what} is outside {MIN_YEAR}-{MAX_YEAR}")


def _record(session: AsyncSession, action: str, source: str, detail: dict[str, Any]) -> None:
    session.add(CalendarChange(action=action, source=source, detail=detail))


def _source(source: str) -> str:
    source = source.strip()
    if not source:
        raise InvalidCalendarInputError("source: say where the data comes from")
    return source[:200]


async def _serialise_writes(session: AsyncSession) -> None:
    """One calendar writer at a time. SQLite's BEGIN IMMEDIATE already serialises writers;
    PostgreSQL takes a transaction-scoped advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})
