"""Errors the calendar services raise; the API maps each to its status and error code."""

from __future__ import annotations


class CalendarError(Exception):
    """Base class. `code` is stable and machine-readable; the message is for people."""

    code = "calendar_error"
    status_code = 422

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidScheduleError(CalendarError):
    """A year's schedule (file or API body) is invalid; `details` lists every problem."""

    code = "invalid_schedule"


class InvalidCalendarInputError(CalendarError):
    code = "invalid_calendar_input"


class CalendarNotFoundError(CalendarError):
    code = "not_found"
    status_code = 404
