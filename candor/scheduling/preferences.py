"""What time a candidate asks for when they move an interview ("改到周四下午", "明天上午",
"next Monday afternoon", "Friday 3pm"): the days and the part of the day, read from the
message as well as a few patterns can, so that the free slots offered fit it.

A pure function of the text and the candidate's today: no clock, no database. It never
raises; what it cannot read it leaves out (an empty preference accepts every slot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class DayPart:
    """A window of the day, in minutes after midnight: `start` <= a start time < `end`."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"not a window of the day: {self.start}..{self.end}")

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


MORNING = DayPart(6 * 60, 12 * 60)
NOON = DayPart(11 * 60, 14 * 60)
AFTERNOON = DayPart(12 * 60, 18 * 60)
EVENING = DayPart(18 * 60, MINUTES_PER_DAY)


@dataclass(frozen=True, slots=True)
class TimePreference:
    days: tuple[date, ...] = ()  # sorted; empty: any day
    part: DayPart | None = None  # None: any time of day

    @property
    def is_empty(self) -> bool:
        return not self.days and self.part is None

    def accepts(self, starts_at: datetime, zone: ZoneInfo) -> bool:
        local = starts_at.astimezone(zone)
        if self.days and local.date() not in self.days:
            return False
        return self.part is None or self.part.contains(local.hour * 60 + local.minute)


_ZH_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
}  # fmt: skip
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_EN_WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_EN_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip

_ZH_NUMBER = r"[0-9０-９]{1,2}|[一二两三四五六七八九十]{1,3}"
_ZH_RELATIVE = re.compile(r"大后天|后天|明天|明日|今天|今日")
_ZH_WEEKDAY = re.compile(
    r"(?P<which>下下|下个|下|这个|这|本)?(?:周|星期|礼拜)(?P<day>[一二三四五六日天末])"
)
_ZH_WEEK = re.compile(r"(?P<which>下下|下个|下|这个|这|本)(?:周|星期|礼拜)(?![一二三四五六日天末])")
_ZH_MONTH_DAY = re.compile(rf"(?:(?P<month>{_ZH_NUMBER})月)(?P<day>{_ZH_NUMBER})[日号]?")
_ZH_DAY_OF_MONTH = re.compile(rf"(?<![月0-9])(?P<day>{_ZH_NUMBER})[号]")
_ZH_PART = re.compile(r"上午|早上|早晨|一早|中午|午饭后|下午|傍晚|晚上")
_ZH_CLOCK = re.compile(
    rf"(?P<part>上午|早上|中午|下午|晚上)?(?P<hour>{_ZH_NUMBER})(?:点|:|：)(?P<half>半)?"
    r"(?P<minute>[0-5][0-9])?"
)

_EN_RELATIVE = re.compile(r"\b(?:day after tomorrow|tomorrow|today|tonight)\b")
_EN_WEEKDAY = re.compile(
    r"\b(?:(?P<which>next|this|coming)\s+)?(?P<day>monday|mon|tuesday|tues|tue|wednesday|wed"
    r"|thursday|thurs|thur|thu|friday|fri|saturday|sat|sunday|sun)s?\b"
)
_EN_WEEK = re.compile(r"\b(?P<which>next|this)\s+week\b")
_EN_MONTH_DAY = re.compile(
    r"\b(?:(?P<month1>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<day1>\d{1,2})(?:st|nd|rd|th)?|(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    r"(?P<month2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b"
)
_EN_PART = re.compile(r"\b(?:morning|noon|lunch|afternoon|evening|tonight)(?=s?\b)")
_EN_CLOCK = re.compile(
    r"\b(?P<hour>\d{1,2})(?::(?P<minute>[0-5]\d))?\s*(?P<meridiem>am|pm|a\.m\.|p\.m\.)"
    r"|\b(?P<hour24>[01]?\d|2[0-3]):(?P<minute24>[0-5]\d)\b"
)

_ZH_PARTS = {
    "上午": MORNING, "早上": MORNING, "早晨": MORNING, "一早": MORNING, "中午": NOON,
    "午饭后": AFTERNOON, "下午": AFTERNOON, "傍晚": EVENING, "晚上": EVENING,
}  # fmt: skip
_EN_PARTS = {
    "morning": MORNING, "noon": NOON, "lunch": NOON, "afternoon": AFTERNOON,
    "evening": EVENING, "tonight": EVENING,
}  # fmt: skip


def _zh_number(text: str) -> int | None:
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    if not text or any(c not in _ZH_DIGITS for c in text):
        return None
    if "十" not in text:
        return _ZH_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekday(today: date, weekday: int, weeks_ahead: int | None) -> date:
    """The weekday's date: in the week `weeks_ahead` after this one, or (None) the soonest
    one on or after today."""
    if weeks_ahead is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    return _week_start(today) + timedelta(weeks=weeks_ahead, days=weekday)


def _week(today: date, weeks_ahead: int) -> list[date]:
    start = _week_start(today) + timedelta(weeks=weeks_ahead)
    return [start + timedelta(days=n) for n in range(7)]


def _month_day(today: date, month: int | None, day: int | None) -> date | None:
    """The next date with this month and day (this year or the next); None if no such date."""
    if day is None or not 1 <= day <= 31:
        return None
    if month is None:
        for ahead in range(3):
            month_index = today.month - 1 + ahead
            year, month0 = today.year + month_index // 12, month_index % 12
            found = _valid_date(year, month0 + 1, day)
            if found is not None and found >= today:
                return found
        return None
    if not 1 <= month <= 12:
        return None
    for year in (today.year, today.year + 1):
        found = _valid_date(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_ZH_WHICH = {None: None, "这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "下下": 2}


def _days(text: str, today: date) -> list[date]:
    found: list[date] = []
    for match in _ZH_RELATIVE.finditer(text):
        found.append(
            today
            + timedelta(
                days={"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}[
                    match.group()
                ]
            )
        )
    for match in _ZH_WEEKDAY.finditer(text):
        weekday = _ZH_WEEKDAYS[match.group("day")]
        day = _weekday(today, weekday, _ZH_WHICH[match.group("which")])
        found.append(day)
        if match.group("day") == "末":
            found.append(day + timedelta(days=1))
    for match in _ZH_WEEK.finditer(text):
        found.extend(_week(today, _ZH_WHICH[match.group("which")] or 0))
    for match in _ZH_MONTH_DAY.finditer(text):
        day_of = _month_day(today, _zh_number(match.group("month")), _zh_number(match.group("day")))
        if day_of is not None:
            found.append(day_of)
    for match in _ZH_DAY_OF_MONTH.finditer(text):
        day_of = _month_day(today, None, _zh_number(match.group("day")))
        if day_of is not None:
            found.append(day_of)
    lower = text.lower()
    for match in _EN_RELATIVE.finditer(lower):
        offset = {"today": 0, "tonight": 0, "tomorrow": 1, "day after tomorrow": 2}
        found.append(today + timedelta(days=offset[match.group()]))
    for match in _EN_WEEKDAY.finditer(lower):
        which = match.group("which")
        weekday = _EN_WEEKDAYS[match.group("day")[:3]]
        found.append(_weekday(today, weekday, 1 if which == "next" else None))
    for match in _EN_WEEK.finditer(lower):
        found.extend(_week(today, 1 if match.group("which") == "next" else 0))
    for match in _EN_MONTH_DAY.finditer(lower):
        month = _EN_MONTHS[(match.group("month1") or match.group("month2"))[:3]]
        day_of = _month_day(today, month, int(match.group("day1") or match.group("day2")))
        if day_of is not None:
            found.append(day_of)
    return found


def _clock(text: str) -> DayPart | None:
    """An hour asked for ("下午3点", "3pm", "15:00"): the hour from it."""
    for match in _ZH_CLOCK.finditer(text):
        hour = _zh_number(match.group("hour"))
        if hour is None or hour > 23:
            continue
        minute = 30 if match.group("half") else int(match.group("minute") or 0)
        part = match.group("part")
        afternoon = (part in ("下午", "晚上") and hour < 12) or (part == "中午" and hour < 3)
        # "3点" alone, for an interview, means the afternoon.
        if afternoon or (part is None and 1 <= hour <= 7):
            hour += 12
        return _hour_from(hour, minute)
    lower = text.lower()
    for match in _EN_CLOCK.finditer(lower):
        if match.group("hour24") is not None:
            return _hour_from(int(match.group("hour24")), int(match.group("minute24")))
        hour = int(match.group("hour"))
        if not 1 <= hour <= 12:
            continue
        meridiem = match.group("meridiem").replace(".", "")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
        return _hour_from(hour, int(match.group("minute") or 0))
    return None


def _hour_from(hour: int, minute: int) -> DayPart:
    start = hour * 60 + minute
    return DayPart(start, min(start + 60, MINUTES_PER_DAY))


def _part(text: str) -> DayPart | None:
    clock = _clock(text)
    if clock is not None:
        return clock
    parts = [_ZH_PARTS[m.group()] for m in _ZH_PART.finditer(text)]
    parts += [_EN_PARTS[m.group()] for m in _EN_PART.finditer(text.lower())]
    if not parts:
        return None
    # "上午或下午" asks for either: the window that holds both.
    return DayPart(min(p.start for p in parts), max(p.end for p in parts))


def parse_preference(text: str, today: date) -> TimePreference:
    """The days (on or after `today`, the candidate's today) and part of the day asked for."""
    days = sorted({day for day in _days(text, today) if day >= today})
    return TimePreference(tuple(days), _part(text))
