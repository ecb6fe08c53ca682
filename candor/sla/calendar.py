"""China's working-day calendar and the feedback deadline, as pure functions of their data.

A date is classified by the first layer that knows it:

1. an admin override for that date (`calendar_days`): a holiday or a working day;
2. a year whose whole official schedule an admin loaded (`calendar_years`): weekends off,
   nothing else — the schedule's holidays and make-up days are the overrides of layer 1;
3. the `chinese-calendar` package's data for the years it covers: statutory holidays off,
   调休 make-up working days on;
4. the `holidays` package's statutory holidays for the years it can compute (1950-2100):
   the law's days off, lunar festivals included, and its weekday in lieu of one that falls
   on a weekend, but none of a year's 调休 swaps, which only the State Council's yearly
   notice decides. Such a day is *estimated*;
5. otherwise the fallback rule: weekends and the fixed-date holidays (1 January, 1–2 May,
   1–3 October) off, also *estimated*.

A result that counted or skipped an estimated day is estimated too.

The deadline (`WorkingCalendar.due_at`) is the end of the Nth working day after the day the
interview was completed, in Asia/Shanghai; docs/sla.md has the definition with examples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

import chinese_calendar  # type: ignore[import-untyped]

from candor.clock import BUSINESS_TZ
from candor.logging import get_logger
from candor.models.calendar import OverrideKind

log = get_logger(__name__)

DEFAULT_SLA_DAYS = 5
COVERAGE_HORIZON_DAYS = 60
PACKAGE_NAME = "chinese-calendar"
STATUTORY_PACKAGE_NAME = "holidays"
FALLBACK_SOURCE = "rule: weekends and fixed-date holidays (estimated)"
END_OF_DAY = time(23, 59, 59)

# Statutory holidays on the same date every year (全国年节及纪念日放假办法). The others
# follow the lunar calendar, and each year's 调休 schedule moves days around them, so past
# the known data only these are assumed. 3 May is not one: Labour Day was 1 May alone from
# 2008, and 1-2 May since the law's 2024 revision took effect on 2025-01-01.
FIXED_HOLIDAYS: Mapping[tuple[int, int], str] = {
    (1, 1): "New Year's Day",
    (5, 1): "Labour Day",
    (5, 2): "Labour Day",
    (10, 1): "National Day",
    (10, 2): "National Day",
    (10, 3): "National Day",
}
LABOUR_DAY_TWO_DAYS_SINCE = 2025


def fixed_holiday(day: date) -> str | None:
    """The fixed-date statutory holiday on `day`, if any (the law since 2008/2025)."""
    if (day.month, day.day) == (5, 2) and day.year < LABOUR_DAY_TWO_DAYS_SINCE:
        return None
    return FIXED_HOLIDAYS.get((day.month, day.day))


class DayKind(StrEnum):
    WORKDAY = "workday"  # an ordinary working day
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # a statutory holiday, or a day off of its 调休 block
    MAKEUP_WORKDAY = "makeup_workday"  # 调休: a weekend day worked to make up for a holiday


WORKING_KINDS = frozenset({DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY})


class NaiveDatetimeError(ValueError):
    """A completion time without a UTC offset: its local date would be a guess."""


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: date
    kind: DayKind
    name: str | None
    source: str
    estimated: bool

    @property
    def working(self) -> bool:
        return self.kind in WORKING_KINDS

    def reason(self) -> str:
        """Why the day counts or not, for people: `holiday: National Day`."""
        if self.kind is DayKind.MAKEUP_WORKDAY:
            text = "调休 make-up working day" + (f" ({self.name})" if self.name else "")
        elif self.kind is DayKind.HOLIDAY:
            text = f"holiday: {self.name or 'unnamed'}"
        elif self.kind is DayKind.WEEKEND:
            text = "weekend"
        else:
            text = "working day" + (f" ({self.name})" if self.name else "")
        return text + (" [estimated]" if self.estimated else "")


@dataclass(frozen=True, slots=True)
class Override:
    kind: OverrideKind
    name: str
    source: str


@dataclass(frozen=True, slots=True)
class AdminYear:
    year: int
    source: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class PackageData:
    """The official data shipped with `chinese-calendar`, read once per process."""

    version: str
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    years: frozenset[int]

    @property
    def first_year(self) -> int:
        return min(self.years)

    @property
    def last_year(self) -> int:
        return max(self.years)

    @property
    def source(self) -> str:
        return f"{PACKAGE_NAME} {self.version}"


@lru_cache(maxsize=1)
def package_data() -> PackageData:
    holidays: dict[date, str] = dict(chinese_calendar.holidays)
    workdays: dict[date, str] = dict(chinese_calendar.workdays)
    years = frozenset(day.year for day in holidays) | frozenset(day.year for day in workdays)
    try:
        package_version = version(PACKAGE_NAME)
    except PackageNotFoundError:  # pragma: no cover - installed under its other name
        package_version = str(chinese_calendar.__version__)
    return PackageData(version=package_version, holidays=holidays, workdays=workdays, years=years)


@dataclass(frozen=True, slots=True)
class StatutoryData:
    """China's statutory holidays as the `holidays` package computes them from the law, for
    the years `chinese-calendar` has no data for."""

    version: str

    @property
    def first_year(self) -> int:
        return _statutory_years()[0]

    @property
    def last_year(self) -> int:
        return _statutory_years()[1]

    @property
    def source(self) -> str:
        return f"{STATUTORY_PACKAGE_NAME} {self.version}: statutory days off (estimated)"

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def holidays(self, year: int) -> Mapping[date, str]:
        return statutory_holidays(year) if self.covers(year) else {}


@lru_cache(maxsize=1)
def statutory_data() -> StatutoryData:
    return StatutoryData(version=version(STATUTORY_PACKAGE_NAME))


@lru_cache(maxsize=1)
def _statutory_years() -> tuple[int, int]:
    # Imported on first use, not when a calendar is built: the package takes a sixth of a
    # second to import (half a second without bytecode), which every process (and every
    # `candor sla due`) would otherwise pay even when chinese-calendar answers every date.
    from holidays.countries.china import China

    return China.start_year, China.end_year


@lru_cache(maxsize=256)  # more than the package's 151 years
def statutory_holidays(year: int) -> Mapping[date, str]:
    """The law's days off in `year` (全国年节及纪念日放假办法 as in force that year) with the
    weekdays it gives in lieu of those on a weekend (its article 6), and nothing else: no
    调休 swap, because each year's notice decides those together with the make-up working
    days that pay for them, and a rest day without its make-up day would push estimated
    deadlines later."""
    from holidays.countries.china import China

    china = China(language="en_US")  # type: ignore[no-untyped-call]
    # The package also lists the published notices' swapped days off and one-off days (the
    # 2015 victory parade, the 2020 extension); they are not statutory. Its flag for them
    # is read when a year is first computed, so it is set before the lookup that does so.
    china.has_special_holidays = False
    china.get(date(year, 1, 1))
    return {day: str(name) for day, name in china.items() if day.year == year}


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a candidate must have heard back: the end of `due_on`, Asia/Shanghai."""

    completed_at: datetime
    completed_on: date  # the completion's local date in Asia/Shanghai
    days: int
    due_on: date
    due_at: datetime  # 23:59:59 on due_on, +08:00
    estimated: bool
    coverage_end: date
    steps: tuple[DayInfo, ...]  # every day after completed_on up to due_on, counted or not

    def is_met_by(self, sent_at: datetime) -> bool:
        """True when `sent_at` falls on or before the due date, local time."""
        return _local_date(sent_at) <= self.due_on


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    package: PackageData = field(default_factory=package_data)
    statutory: StatutoryData = field(default_factory=statutory_data)
    overrides: Mapping[date, Override] = field(default_factory=dict)
    admin_years: Mapping[int, AdminYear] = field(default_factory=dict)
    # The calendar_changes count this was built from; see candor/sla/service.py.
    revision: int = 0

    @property
    def known_years(self) -> frozenset[int]:
        return self.package.years | frozenset(self.admin_years)

    def is_known(self, day: date) -> bool:
        """Whether `day` is classified from official or admin data, not an estimate."""
        return day in self.overrides or day.year in self.known_years

    def coverage_end(self) -> date:
        """The last date of the unbroken run of known years that starts with the package's
        first year: every date up to it is known (admin years after a gap do not count)."""
        year = self.package.first_year
        while year + 1 in self.known_years:
            year += 1
        return date(year, 12, 31)

    def coverage_warning(
        self, today: date, *, horizon_days: int = COVERAGE_HORIZON_DAYS
    ) -> str | None:
        """A warning when the known data ends within `horizon_days` of `today`."""
        end = self.coverage_end()
        if end >= today + timedelta(days=horizon_days):
            return None
        return (
            f"the working-day calendar has official data only through {end.isoformat()}, "
            f"less than {horizon_days} days ahead: deadlines after that are estimated from "
            f"weekends and the statutory holidays, without the 调休 swaps, until the next "
            f"year's schedule is loaded "
            f"(see docs/sla.md)"
        )

    def day(self, day: date) -> DayInfo:
        override = self.overrides.get(day)
        if override is not None:
            return _override_info(day, override)
        weekend = day.weekday() >= 5
        admin_year = self.admin_years.get(day.year)
        if admin_year is not None:
            kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
            return DayInfo(day, kind, None, admin_year.source, estimated=False)
        if day.year in self.package.years:
            return self._package_day(day, weekend)
        if self.statutory.covers(day.year):
            return self._statutory_day(day, weekend)
        fixed = fixed_holiday(day)
        if fixed is not None:
            return DayInfo(day, DayKind.HOLIDAY, fixed, FALLBACK_SOURCE, estimated=True)
        kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
        return DayInfo(day, kind, None, FALLBACK_SOURCE, estimated=True)

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def days(self, start: date, end: date) -> Iterator[DayInfo]:
        """Each day from `start` to `end`, both included."""
        current = start
        while current <= end:
            yield self.day(current)
            current += timedelta(days=1)

    def walk(self, start: date, n: int) -> tuple[DayInfo, ...]:
        """The days after `start` up to and including its Nth working day (empty for 0)."""
        if n < 0:
            raise ValueError("the number of working days cannot be negative")
        steps: list[DayInfo] = []
        counted = 0
        current = start
        while counted < n:
            current += timedelta(days=1)
            info = self.day(current)
            steps.append(info)
            if info.working:
                counted += 1
        return tuple(steps)

    def add_working_days(self, start: date, n: int) -> tuple[date, bool]:
        """The Nth working day after `start` (`start` itself never counts), and whether any
        day on the way was estimated. Adding 0 returns `start`."""
        steps = self.walk(start, n)
        if not steps:
            return start, False
        return steps[-1].day, any(step.estimated for step in steps)

    def due_at(self, completed_at: datetime, days: int = DEFAULT_SLA_DAYS) -> Deadline:
        """The feedback deadline for an interview completed at `completed_at` (aware)."""
        if days < 1:
            raise ValueError("the deadline needs at least 1 working day")
        completed_on = _local_date(completed_at)
        steps = self.walk(completed_on, days)
        due_on = steps[-1].day
        estimated = any(step.estimated for step in steps)
        deadline = Deadline(
            completed_at=completed_at,
            completed_on=completed_on,
            days=days,
            due_on=due_on,
            due_at=datetime.combine(due_on, END_OF_DAY, tzinfo=BUSINESS_TZ),
            estimated=estimated,
            coverage_end=self.coverage_end(),
            steps=steps,
        )
        if estimated:
            log.warning(
                "calendar.estimated",
                completed_on=completed_on.isoformat(),
                due_on=due_on.isoformat(),
                coverage_end=deadline.coverage_end.isoformat(),
                estimated_days=[s.day.isoformat() for s in steps if s.estimated],
            )
        return deadline

    def _package_day(self, day: date, weekend: bool) -> DayInfo:
        source = self.package.source
        if day in self.package.workdays:
            name = self.package.workdays[day]
            kind = DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY
            return DayInfo(day, kind, name, source, estimated=False)
        if day in self.package.holidays:
            return DayInfo(day, DayKind.HOLIDAY, self.package.holidays[day], source, False)
        kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
        return DayInfo(day, kind, None, source, estimated=False)

    def _statutory_day(self, day: date, weekend: bool) -> DayInfo:
        source = self.statutory.source
        name = self.statutory.holidays(day.year).get(day)
        if name is not None:
            return DayInfo(day, DayKind.HOLIDAY, name, source, estimated=True)
        kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
        return DayInfo(day, kind, None, source, estimated=True)


def _override_info(day: date, override: Override) -> DayInfo:
    if override.kind is OverrideKind.HOLIDAY:
        kind = DayKind.HOLIDAY
    else:
        kind = DayKind.MAKEUP_WORKDAY if day.weekday() >= 5 else DayKind.WORKDAY
    return DayInfo(day, kind, override.name, override.source, estimated=False)


def _local_date(moment: datetime) -> date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{moment.isoformat()} has no UTC offset; give one, e.g. "
            f"{moment.isoformat()}+08:00 for China time"
        )
    return moment.astimezone(BUSINESS_TZ).date()
