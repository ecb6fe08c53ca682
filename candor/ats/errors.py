"""Errors the ATS services raise, each with its status and error code for the API."""

from __future__ import annotations

from candor.errors import CandorError


class AtsError(CandorError):
    code = "ats_error"
    http_status = 422


class UnknownReferenceError(AtsError):
    code = "unknown_reference"
    http_status = 422


class InvalidTransitionError(AtsError):
    code = "invalid_transition"
    http_status = 409


class EventConflictError(AtsError):
    code = "event_id_conflict"
    http_status = 409


class ErasedReferenceError(AtsError):
    """The event names a candidate or application whose personal data was erased at their
    request: it is not re-created from an event that was in flight."""

    code = "erased_reference"
    http_status = 409
