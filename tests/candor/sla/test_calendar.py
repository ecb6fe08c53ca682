"""The working-day calendar as pure functions: known official facts and properties."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from holidays.countries.china import China
from hypothesis import given, settings
from hypothesis import strategies as st

from candor.clock import BUSINESS_TZ
from candor.models.calendar import OverrideKind
from candor.sla.calendar import (
    FALLBACK_SOURCE,
    AdminYear,
    DayKind,
    NaiveDatetimeError,
    Override,
    PackageData,
    WorkingCalendar,
    fixed_holiday,
    package_data,
    statutory_data,
    statutory_holidays,
)

CN = timezone(timedelta(hours=8))
CALENDAR = WorkingCalendar()
PACKAGE = package_data()
STATUTORY = statutory_data()
any_date = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
working_days = st.integers(min_value=0, max_value=40)


def due(text: str, days: int = 5, calendar: WorkingCalendar = CALENDAR) -> str:
    return calendar.due_at(datetime.fromisoformat(text), days).due_at.isoformat()


def between(start: date, end: date) -> list[date]:
    """Dates after `start` up to and including `end`."""
    return [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]


# -- what the package says (chinese-calendar 1.11.0 covers 2004-2026) ----------------------


def test_the_package_covers_2004_through_2026_and_not_2027() -> None:
    assert PACKAGE.first_year == 2004
    assert PACKAGE.last_year >= 2026
    assert CALENDAR.coverage_end() == date(PACKAGE.last_year, 12, 31)
    assert CALENDAR.is_known(date(2026, 12, 31))
    assert not CALENDAR.is_known(date(PACKAGE.last_year + 1, 1, 1))


def test_national_day_2025_holidays_and_make_up_days() -> None:
    for offset in range(8):
        day = CALENDAR.day(date(2025, 10, 1) + timedelta(days=offset))
        assert day.kind is DayKind.HOLIDAY
        assert not day.working
        assert not day.estimated
    assert CALENDAR.day(date(2025, 10, 6)).name == "Mid-autumn Festival"
    for makeup in (date(2025, 9, 28), date(2025, 10, 11)):  # a Sunday and a Saturday
        info = CALENDAR.day(makeup)
        assert info.kind is DayKind.MAKEUP_WORKDAY
        assert info.working
        assert info.name == "National Day"
        assert "调休" in info.reason()
    assert CALENDAR.day(date(2025, 10, 12)).kind is DayKind.WEEKEND


def test_deadline_across_national_day_2025() -> None:
    # Oct 1-8 off; counts Oct 9, 10, 11 (调休 Saturday), 13, 14.
    deadline = CALENDAR.due_at(datetime.fromisoformat("2025-09-30T10:00:00+08:00"))

    assert deadline.due_at.isoformat() == "2025-10-14T23:59:59+08:00"
    assert deadline.due_on == date(2025, 10, 14)
    assert not deadline.estimated
    assert [s.day.day for s in deadline.steps if s.working] == [9, 10, 11, 13, 14]
    assert deadline.steps[0].day == date(2025, 10, 1)


def test_completion_on_a_holiday_or_make_up_day_counts_from_the_next_day() -> None:
    assert due("2025-10-03T15:00:00+08:00") == "2025-10-14T23:59:59+08:00"
    assert due("2025-10-11T09:00:00+08:00") == "2025-10-17T23:59:59+08:00"
    assert due("2025-09-27T09:00:00+08:00") == "2025-10-10T23:59:59+08:00"  # 28th is 调休


def test_the_local_date_in_china_decides_not_the_utc_date() -> None:
    # 17:00 UTC on Sep 29 is 01:00 on Sep 30 in China; one second earlier is still Sep 29.
    assert due("2025-09-29T17:00:00Z") == "2025-10-14T23:59:59+08:00"
    assert due("2025-09-29T15:59:59+00:00") == "2025-10-13T23:59:59+08:00"
    assert due("2025-09-29T10:59:59-05:00") == "2025-10-13T23:59:59+08:00"


def test_spring_festival_2026() -> None:
    # Feb 15-23 off; Feb 14 and Feb 28 (Saturdays) are make-up working days.
    assert due("2026-02-12T15:00:00+08:00") == "2026-02-26T23:59:59+08:00"
    assert due("2026-02-24T09:00:00+08:00") == "2026-03-02T23:59:59+08:00"
    assert CALENDAR.day(date(2026, 2, 14)).kind is DayKind.MAKEUP_WORKDAY
    assert CALENDAR.day(date(2026, 2, 28)).kind is DayKind.MAKEUP_WORKDAY
    assert CALENDAR.day(date(2026, 2, 23)).name == "Spring Festival"


def test_other_day_counts() -> None:
    assert due("2025-09-30T10:00:00+08:00", days=1) == "2025-10-09T23:59:59+08:00"
    assert due("2025-09-30T10:00:00+08:00", days=10) == "2025-10-21T23:59:59+08:00"


# -- past the data: estimated ---------------------------------------------------------------


def package_through(last_year: int) -> PackageData:
    """chinese-calendar's data cut at `last_year`, so that what a test says about the years
    after it holds whichever release is installed."""
    return PackageData(
        version=PACKAGE.version,
        holidays={day: name for day, name in PACKAGE.holidays.items() if day.year <= last_year},
        workdays={day: name for day, name in PACKAGE.workdays.items() if day.year <= last_year},
        years=frozenset(year for year in PACKAGE.years if year <= last_year),
    )


THROUGH_2026 = WorkingCalendar(package=package_through(2026))


def test_2027_without_admin_data_is_estimated_from_the_statutory_holidays() -> None:
    deadline = THROUGH_2026.due_at(datetime.fromisoformat("2026-12-30T10:00:00+08:00"))

    assert deadline.due_at.isoformat() == "2027-01-07T23:59:59+08:00"
    assert deadline.estimated
    assert deadline.coverage_end == date(2026, 12, 31)
    new_year = THROUGH_2026.day(date(2027, 1, 1))
    assert (new_year.kind, new_year.name, new_year.estimated) == (
        DayKind.HOLIDAY,
        "New Year's Day",
        True,
    )
    assert new_year.source == STATUTORY.source


def test_a_deadline_past_the_official_data_skips_the_spring_festival() -> None:
    # Completed Friday 2027-01-29. Counting weekends and fixed-date holidays alone gave
    # Feb 1-5, a deadline on 除夕 (Feb 5), a statutory holiday since 2025. The statutory
    # Spring Festival is Feb 5-8 (Fri-Mon), and the law gives Feb 9-10 in lieu of its
    # weekend days, so the fifth working day is Thursday Feb 11.
    deadline = THROUGH_2026.due_at(datetime.fromisoformat("2027-01-29T18:00:00+08:00"))

    assert deadline.due_at.isoformat() == "2027-02-11T23:59:59+08:00"
    assert deadline.estimated
    skipped = {s.day: s.name for s in deadline.steps if s.kind is DayKind.HOLIDAY}
    assert skipped == {
        date(2027, 2, 5): "Chinese New Year's Eve",
        date(2027, 2, 6): "Chinese New Year (Spring Festival)",
        date(2027, 2, 7): "Chinese New Year (Spring Festival)",
        date(2027, 2, 8): "Chinese New Year (Spring Festival)",
        date(2027, 2, 9): "Chinese New Year (Spring Festival) (observed)",
        date(2027, 2, 10): "Chinese New Year (Spring Festival) (observed)",
    }
    assert [s.day.day for s in deadline.steps if s.working] == [1, 2, 3, 4, 11]


def test_an_admin_year_wins_over_the_statutory_estimate() -> None:
    calendar = WorkingCalendar(
        package=package_through(2026), admin_years={2027: AdminYear(2027, "test")}
    )
    # The admin's schedule for 2027 has no holidays: Feb 5 is an ordinary Friday.
    assert calendar.due_at(datetime.fromisoformat("2027-01-29T18:00:00+08:00")).due_on == (
        date(2027, 2, 5)
    )
    assert not calendar.day(date(2027, 2, 5)).estimated


def test_the_fixed_date_rule_decides_only_past_the_statutory_years() -> None:
    assert STATUTORY.last_year >= 2100
    after = date(STATUTORY.last_year + 1, 10, 1)
    info = CALENDAR.day(after)
    assert (info.name, info.source, info.estimated) == ("National Day", FALLBACK_SOURCE, True)
    last = CALENDAR.day(date(STATUTORY.last_year, 10, 1))
    assert last.source == STATUTORY.source


# -- the two sources agree where both know a year ---------------------------------------------


def overlap_years() -> list[int]:
    return sorted(year for year in PACKAGE.years if STATUTORY.covers(year))


def test_the_sources_overlap_on_every_year_chinese_calendar_covers() -> None:
    # Otherwise the agreement tests below would compare nothing.
    assert overlap_years() == sorted(PACKAGE.years)
    assert len(overlap_years()) >= 20


@pytest.mark.parametrize("year", overlap_years())
def test_every_statutory_holiday_is_a_day_off_in_chinese_calendar(year: int) -> None:
    # The days in lieu included: each published schedule gave them off too.
    # Not `<= chinese_calendar.holidays`: that data leaves out some weekend days inside a
    # holiday block (2012-06-23, a Saturday of the Dragon Boat Festival), which are off
    # anyway. What must agree is that no statutory holiday is a working day.
    for day, name in statutory_holidays(year).items():
        off = day in PACKAGE.holidays or (day.weekday() >= 5 and day not in PACKAGE.workdays)
        assert off, f"{day} ({name}) is statutory but a working day in chinese-calendar"


@pytest.mark.parametrize("year", overlap_years())
def test_chinese_calendars_extra_days_off_are_the_notices_swaps(year: int) -> None:
    # chinese-calendar has more weekdays off than the law's: the 调休 days swapped for a
    # worked weekend day, and one-off days (2015's victory parade, 2020's extended Spring
    # Festival). `holidays` lists those too, apart from its statutory ones, when asked for
    # the published notices as well.
    published = China(years=year, language="en_US")  # type: ignore[no-untyped-call]
    for day in PACKAGE.holidays:
        if day.year == year and day.weekday() < 5:
            assert day in published, f"{day} ({PACKAGE.holidays[day]}) unknown to holidays"
    assert not set(statutory_holidays(year)) - set(published)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    statutory_holidays.cache_clear()  # computed afresh under the guard
    statutory_data.cache_clear()
    yield
    statutory_holidays.cache_clear()
    statutory_data.cache_clear()


@pytest.mark.usefixtures("no_network")
def test_the_statutory_estimate_needs_no_network() -> None:
    calendar = WorkingCalendar(package=package_through(2026))
    for year in (1990, 2027, 2050, 2100):
        assert any(calendar.day(d).kind is DayKind.HOLIDAY for d in _year(year))


def test_deadline_inside_known_data_is_not_estimated_even_late_in_the_year() -> None:
    deadline = CALENDAR.due_at(datetime.fromisoformat("2026-12-23T10:00:00+08:00"))
    assert deadline.due_on == date(2026, 12, 30)
    assert not deadline.estimated


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2030, 1, 1), "New Year's Day"),
        (date(2030, 2, 2), "Chinese New Year's Eve"),  # a Saturday
        (date(2030, 2, 4), "Chinese New Year (Spring Festival)"),  # a Monday
        (date(2030, 4, 5), "Tomb-Sweeping Day"),
        (date(2030, 5, 2), "Labor Day"),  # statutory since the 2024 revision (from 2025)
        (date(2030, 6, 5), "Dragon Boat Festival"),
        (date(2030, 9, 12), "Mid-Autumn Festival"),
        (date(2030, 10, 3), "National Day"),
        (date(2030, 2, 6), "Chinese New Year's Eve (observed)"),  # in lieu of Saturday's
        (date(2030, 2, 8), None),  # a Friday: no 调休 block is guessed
        (date(2030, 5, 3), None),  # a Friday: not a statutory holiday
        (date(2030, 10, 4), None),
        (date(2003, 5, 2), "Labor Day"),  # 1-3 May were statutory from 2000 to 2007
        (date(1995, 10, 3), None),  # 3 October only from 1999
    ],
)
def test_statutory_estimates_past_chinese_calendars_years(day: date, holiday: str | None) -> None:
    info = THROUGH_2026.day(day)
    assert (info.name, info.estimated) == (holiday, True)
    assert info.working == (holiday is None and day.weekday() < 5)


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2030, 1, 1), "New Year's Day"),
        (date(2030, 5, 2), "Labour Day"),
        (date(2030, 10, 3), "National Day"),
        (date(2030, 5, 3), None),
        (date(2003, 5, 2), None),  # before 2025, only 1 May
    ],
)
def test_fixed_date_rule(day: date, holiday: str | None) -> None:
    assert fixed_holiday(day) == holiday


def test_an_admin_schedule_for_2027_makes_it_known_and_is_used() -> None:
    # Test data, not the official 2027 schedule.
    calendar = WorkingCalendar(
        overrides={
            date(2027, 1, 1): Override(OverrideKind.HOLIDAY, "元旦", "test"),
            date(2027, 1, 4): Override(OverrideKind.HOLIDAY, "test holiday", "test"),
            date(2027, 1, 9): Override(OverrideKind.WORKDAY, "test make-up", "test"),
        },
        admin_years={2027: AdminYear(2027, "test")},
    )
    deadline = calendar.due_at(datetime.fromisoformat("2026-12-30T10:00:00+08:00"))

    # Dec 31, (Jan 1 off, 2-3 weekend, 4 off) Jan 5, 6, 7, 8.
    assert deadline.due_at.isoformat() == "2027-01-08T23:59:59+08:00"
    assert not deadline.estimated
    assert calendar.coverage_end() == date(2027, 12, 31)
    assert calendar.day(date(2027, 1, 9)).kind is DayKind.MAKEUP_WORKDAY
    assert calendar.day(date(2027, 5, 2)).working is False  # a Sunday
    assert calendar.day(date(2027, 10, 1)).working  # the admin's year replaces the rule


def test_an_admin_year_replaces_the_package_data_for_that_year() -> None:
    calendar = WorkingCalendar(admin_years={2025: AdminYear(2025, "test")})
    assert calendar.day(date(2025, 10, 8)).working
    assert calendar.day(date(2025, 10, 11)).kind is DayKind.WEEKEND


def test_admin_override_wins_over_package_data() -> None:
    calendar = WorkingCalendar(
        overrides={
            date(2025, 10, 8): Override(OverrideKind.WORKDAY, "office open", "test"),
            date(2025, 10, 10): Override(OverrideKind.HOLIDAY, "company day", "test"),
        }
    )
    assert calendar.day(date(2025, 10, 8)).kind is DayKind.WORKDAY
    assert calendar.day(date(2025, 10, 10)).name == "company day"
    # Counts Oct 8, 9, 11, 13, 14 instead of 9, 10, 11, 13, 14.
    assert due("2025-09-30T10:00:00+08:00", calendar=calendar) == "2025-10-14T23:59:59+08:00"
    assert due("2025-09-30T10:00:00+08:00", 2, calendar) == "2025-10-09T23:59:59+08:00"


def test_coverage_counts_only_an_unbroken_run_of_years() -> None:
    gap = WorkingCalendar(admin_years={2028: AdminYear(2028, "test")})
    run = WorkingCalendar(
        admin_years={2027: AdminYear(2027, "test"), 2028: AdminYear(2028, "test")}
    )
    assert gap.coverage_end() == date(2026, 12, 31)
    assert run.coverage_end() == date(2028, 12, 31)


def test_coverage_warning_within_60_days() -> None:
    assert CALENDAR.coverage_warning(date(2026, 10, 1)) is None
    warning = CALENDAR.coverage_warning(date(2026, 11, 25))
    assert warning is not None
    assert "2026-12-31" in warning
    loaded = WorkingCalendar(admin_years={2027: AdminYear(2027, "test")})
    assert loaded.coverage_warning(date(2026, 11, 25)) is None


def test_naive_completion_times_and_zero_days_are_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="no UTC offset"):
        CALENDAR.due_at(datetime(2025, 9, 30, 10, 0))
    with pytest.raises(ValueError, match="at least 1"):
        CALENDAR.due_at(datetime(2025, 9, 30, 10, 0, tzinfo=UTC), 0)
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(date(2025, 9, 30), -1)


def test_is_met_by_compares_local_dates() -> None:
    deadline = CALENDAR.due_at(datetime.fromisoformat("2025-09-30T10:00:00+08:00"))
    assert deadline.is_met_by(datetime.fromisoformat("2025-10-14T23:59:59.9+08:00"))
    assert deadline.is_met_by(datetime.fromisoformat("2025-10-14T15:59:59Z"))
    assert not deadline.is_met_by(datetime.fromisoformat("2025-10-14T16:00:00Z"))


# -- properties -------------------------------------------------------------------------------


def _year(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


@given(any_date)
def test_every_date_from_1990_to_2100_is_classified(day: date) -> None:
    info = CALENDAR.day(day)
    assert info.day == day
    assert info.estimated == (not PACKAGE.first_year <= day.year <= PACKAGE.last_year)
    if info.estimated:
        assert info.source == STATUTORY.source
        assert info.working == (day.weekday() < 5 and day not in statutory_holidays(day.year))


def _any_source_holiday(day: date) -> bool:
    return (
        day in PACKAGE.holidays
        or day in statutory_holidays(day.year)
        or fixed_holiday(day) is not None
    )


# From 2000: the fixed-date rule states the law since the 1999 revision (3 October is
# statutory from then), and until 2100, the last year the statutory source computes.
law_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 10, 31))


@given(law_dates, st.integers(min_value=1, max_value=40), st.booleans())
def test_a_deadline_never_falls_on_a_day_any_source_marks_as_a_holiday(
    day: date, n: int, cut_package: bool
) -> None:
    calendar = THROUGH_2026 if cut_package else CALENDAR
    completed = datetime.combine(day, time(12), tzinfo=BUSINESS_TZ)
    due_on = calendar.due_at(completed, n).due_on
    assert not _any_source_holiday(due_on)


@given(any_date, st.integers(min_value=1, max_value=40))
def test_adding_working_days_lands_on_a_working_day_after_exactly_n(day: date, n: int) -> None:
    result, _ = CALENDAR.add_working_days(day, n)
    assert result > day
    assert CALENDAR.is_working_day(result)
    assert sum(CALENDAR.is_working_day(d) for d in between(day, result)) == n


@given(any_date, working_days, working_days)
def test_adding_is_strictly_monotonic_in_n(day: date, n: int, m: int) -> None:
    a, _ = CALENDAR.add_working_days(day, n)
    b, _ = CALENDAR.add_working_days(day, m)
    assert (a < b) == (n < m)
    assert (a == b) == (n == m)


@given(any_date, working_days, working_days)
def test_adding_n_then_m_is_adding_n_plus_m(day: date, n: int, m: int) -> None:
    first, est_first = CALENDAR.add_working_days(day, n)
    both, est_both = CALENDAR.add_working_days(first, m)
    total, est_total = CALENDAR.add_working_days(day, n + m)
    assert both == total
    assert est_total == (est_first or est_both)


@given(any_date, working_days)
def test_estimated_iff_a_day_counted_is_past_the_data(day: date, n: int) -> None:
    result, estimated = CALENDAR.add_working_days(day, n)
    first_known = date(PACKAGE.first_year, 1, 1)
    outside = n > 0 and (day + timedelta(days=1) < first_known or result > CALENDAR.coverage_end())
    assert estimated == outside


@given(
    st.integers(min_value=1, max_value=15),
    st.datetimes(
        min_value=datetime(1990, 1, 2), max_value=datetime(2100, 12, 30), timezones=st.just(UTC)
    ),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
@settings(max_examples=50)
def test_due_at_is_the_end_of_the_nth_working_day_after_the_local_date(
    n: int, moment: datetime, offset_minutes: int
) -> None:
    completed = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    deadline = CALENDAR.due_at(completed, n)
    local = completed.astimezone(BUSINESS_TZ).date()
    assert deadline.completed_on == local
    assert (deadline.due_on, deadline.estimated) == CALENDAR.add_working_days(local, n)
    assert deadline.due_at.timetz().replace(tzinfo=None) == time(23, 59, 59)
    assert deadline.due_at.tzinfo is BUSINESS_TZ
    if deadline.due_on.year >= 1992:  # China kept summer time from 1986 to 1991
        assert deadline.due_at.utcoffset() == timedelta(hours=8)
    assert deadline.is_met_by(deadline.due_at)
    assert not deadline.is_met_by(deadline.due_at + timedelta(seconds=1))


@given(any_date, st.sampled_from(list(OverrideKind)), working_days)
def test_an_override_always_wins(day: date, kind: OverrideKind, n: int) -> None:
    calendar = WorkingCalendar(overrides={day: Override(kind, "x", "test")})
    info = calendar.day(day)
    assert info.working == (kind is OverrideKind.WORKDAY)
    assert not info.estimated
    result, _ = calendar.add_working_days(day - timedelta(days=1), max(n, 1))
    assert calendar.is_working_day(result)
