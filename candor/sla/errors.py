"""Errors the calendar services raise, each with its status and error code for the API."""

from __future__ import annotations

from candor.errors import CandorError


class CalendarError(CandorError):
    """`details` lists every problem (empty when there is only the message)."""

    code = "calendar_error"
    http_status = 422
    details: list[str]

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message, details=details or [])


class InvalidScheduleError(CalendarError):
    """A year's schedule (file or API body) is invalid; `details` lists every problem."""

    code = "invalid_schedule"


class InvalidCalendarInputError(CalendarError):
    code = "invalid_calendar_input"


class CalendarNotFoundError(CalendarError):
    code = "not_found"
    http_status = 404
