"""Errors the ATS services raise; the API maps each to one status code and error code."""

from __future__ import annotations


class AtsError(Exception):
    """Base class. `code` is stable and machine-readable; the message is for people."""

    code = "ats_error"
    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownReferenceError(AtsError):
    code = "unknown_reference"
    status_code = 422


class InvalidTransitionError(AtsError):
    code = "invalid_transition"
    status_code = 409


class EventConflictError(AtsError):
    code = "event_id_conflict"
    status_code = 409
