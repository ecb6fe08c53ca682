"""The feedback promise's day arithmetic: was a candidate told in time, and how fast.

A report meets the same few hundred dates over and over, and walking the calendar is the
costly part, so `FeedbackClock` does it once per distinct day. Definitions: docs/kpis.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from candor.kpis.filters import local_day
from candor.sla.calendar import WorkingCalendar


class Timeliness(StrEnum):
    IN_TIME = "in_time"  # notified on or before the promised day
    LATE = "late"  # notified after it, or not notified and the day has passed
    PENDING = "pending"  # not notified yet, and the promised day has not passed


class Promise(StrEnum):
    MET = "met"  # the interview's candidate was notified within the promise
    MISSED = "missed"  # notified after the promised day
    UNKNOWN = "unknown"  # the result belongs to no interview, or none was sent yet


class Feedback(NamedTuple):
    """How one interview's candidate heard back."""

    due_on: date  # the promised day
    timeliness: Timeliness
    working_days: int | None  # working days to feedback, once sent


def working_days_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when sent the same day, or
    on days off only): the count the feedback promise is made in."""
    if end <= start:
        return 0
    return sum(1 for day in calendar.days(start + timedelta(days=1), end) if day.working)


class FeedbackClock:
    """The promise's day arithmetic for one report, memoised by date."""

    def __init__(self, calendar: WorkingCalendar, promise_working_days: int, now: datetime):
        self.calendar = calendar
        self.promise_working_days = promise_working_days
        self.today = local_day(now)
        self._due: dict[date, date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def due_on(self, completed_on: date) -> date:
        """The calendar's promised day for an interview completed on `completed_on`."""
        found = self._due.get(completed_on)
        if found is None:
            found = self.calendar.walk(completed_on, self.promise_working_days)[-1].day
            self._due[completed_on] = found
        return found

    def working_days(self, start: date, end: date) -> int:
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = working_days_between(self.calendar, start, end)
            self._between[key] = found
        return found

    def classify(
        self, completed_on: date, sent_on: date | None, stated_due_on: date | None
    ) -> Feedback:
        """How one interview's candidate heard back: against the day stated on its message
        when there is one, else the calendar's deadline."""
        due_on = stated_due_on if stated_due_on is not None else self.due_on(completed_on)
        if sent_on is not None:
            timeliness = Timeliness.IN_TIME if sent_on <= due_on else Timeliness.LATE
            return Feedback(due_on, timeliness, self.working_days(completed_on, sent_on))
        return Feedback(
            due_on, Timeliness.LATE if self.today > due_on else Timeliness.PENDING, None
        )

    def promise(
        self, completed_on: date | None, sent_on: date | None, due_on: date | None
    ) -> Promise:
        """Whether the promise was kept for the interview a result message was about."""
        if completed_on is None or sent_on is None:
            return Promise.UNKNOWN
        kept = self.classify(completed_on, sent_on, due_on).timeliness is Timeliness.IN_TIME
        return Promise.MET if kept else Promise.MISSED
