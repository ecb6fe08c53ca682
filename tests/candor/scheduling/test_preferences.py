"""Reading the time a candidate asks for when moving an interview."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.scheduling.preferences import (
    AFTERNOON,
    MINUTES_PER_DAY,
    MORNING,
    DayPart,
    TimePreference,
    parse_preference,
)

THURSDAY = date(2026, 12, 3)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _days(*offsets: int) -> tuple[date, ...]:
    return tuple(THURSDAY + timedelta(days=n) for n in offsets)


@pytest.mark.parametrize(
    ("text", "days", "part"),
    [
        ("改到周四下午", _days(0), AFTERNOON),
        ("明天上午", _days(1), MORNING),
        ("后天可以吗", _days(2), None),
        ("下周三下午3点", _days(6), DayPart(15 * 60, 16 * 60)),
        ("能改到星期五早上10点半吗", _days(1), DayPart(10 * 60 + 30, 11 * 60 + 30)),
        ("12月10日上午", _days(7), MORNING),
        ("10号下午", _days(7), AFTERNOON),
        ("二十号", _days(17), None),
        ("周末", _days(2, 3), None),
        ("下周吧", _days(4, 5, 6, 7, 8, 9, 10), None),
        ("改到15:30", (), DayPart(15 * 60 + 30, 16 * 60 + 30)),
        ("next Monday afternoon", _days(4), AFTERNOON),
        ("Friday 3pm", _days(1), DayPart(15 * 60, 16 * 60)),
        ("tomorrow morning please", _days(1), MORNING),
        ("mornings next week", _days(4, 5, 6, 7, 8, 9, 10), MORNING),
        ("Dec 10th at 9:30am", _days(7), DayPart(9 * 60 + 30, 10 * 60 + 30)),
        ("上午或下午都行", (), DayPart(MORNING.start, AFTERNOON.end)),
        ("I can't make it", (), None),
        ("this month is sunny", (), None),
    ],
)
def test_reads_days_and_parts_of_day(text: str, days: tuple[date, ...], part: object) -> None:
    assert parse_preference(text, THURSDAY) == TimePreference(days, part)  # type: ignore[arg-type]


def test_a_date_already_past_this_year_means_next_year() -> None:
    assert parse_preference("3月1日", THURSDAY).days == (date(2027, 3, 1),)
    assert parse_preference("2月30日", THURSDAY).days == ()


def test_accepts_judges_the_start_in_the_candidate_zone() -> None:
    preference = parse_preference("明天下午", THURSDAY)
    # 2026-12-04 14:00 in Shanghai is 06:00 UTC.
    assert preference.accepts(datetime(2026, 12, 4, 6, tzinfo=UTC), SHANGHAI)
    assert not preference.accepts(datetime(2026, 12, 4, 2, tzinfo=UTC), SHANGHAI)  # 10:00
    assert not preference.accepts(datetime(2026, 12, 5, 6, tzinfo=UTC), SHANGHAI)
    assert TimePreference().accepts(datetime(2030, 1, 1, tzinfo=UTC), SHANGHAI)
    assert TimePreference().is_empty


def test_a_day_part_must_be_a_window_of_one_day() -> None:
    for start, end in ((0, 0), (600, 500), (-1, 10), (0, MINUTES_PER_DAY + 1)):
        with pytest.raises(ValueError, match="not a window of the day"):
            DayPart(start, end)


_WORDS = st.sampled_from(
    [
        "周", "星期", "礼拜", "下", "下下", "这", "本", "一", "二", "三", "四", "五", "六",
        "日", "天", "末", "十", "两", "月", "号", "点", "半", "上午", "下午", "中午", "晚上",
        "明天", "后天", "大后天", "今天", ":", "：", "0", "1", "2", "3", "9", "12", "31",
        "99", "next", "this", "week", "monday", "fri", "sun", "am", "pm", "p.m.", "dec",
        "feb", "29th", " ", "tomorrow", "morning", "afternoon", "tonight", "of", "at", "改到",
    ]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=60), st.lists(_WORDS, max_size=12).map("".join))
_TEXT_SPACED = st.lists(_WORDS, max_size=12).map(" ".join)


@given(text=st.one_of(_TEXT, _TEXT_SPACED), today=st.dates(date(2000, 1, 1), date(9990, 1, 1)))
def test_never_raises_and_gives_only_future_days_and_well_formed_parts(
    text: str, today: date
) -> None:
    preference = parse_preference(text, today)
    assert all(day >= today for day in preference.days)
    assert list(preference.days) == sorted(set(preference.days))
    if preference.part is not None:
        assert 0 <= preference.part.start < preference.part.end <= MINUTES_PER_DAY


@given(text=_TEXT)
def test_an_empty_preference_accepts_any_slot(text: str) -> None:
    preference = parse_preference(text, THURSDAY)
    if preference.is_empty:
        assert preference.accepts(datetime(2026, 12, 9, 7, tzinfo=UTC), SHANGHAI)
