"""What a booking attempt can run into. Each has a stable code; the chat answers each in
words and the API with its status."""

from __future__ import annotations

from candor.errors import CandorError


class SchedulingError(CandorError):
    code = "scheduling_error"
    http_status = 400


class NoInvitationError(SchedulingError):
    """The application has no open invitation: no advance, or self-scheduling is off."""

    code = "no_invitation"
    http_status = 409


class SlotNotFoundError(SchedulingError):
    """No such slot for this invitation's job and round (or it was withdrawn)."""

    code = "slot_not_found"
    http_status = 404


class SlotTakenError(SchedulingError):
    """Every seat of the slot is held or booked."""

    code = "slot_taken"
    http_status = 409


class SlotTooSoonError(SchedulingError):
    """The slot starts in the past, or sooner than the job's minimum notice."""

    code = "slot_too_soon"
    http_status = 409


class BookingNotFoundError(SchedulingError):
    """No such booking of this candidate's: a foreign or made-up id reveals nothing."""

    code = "booking_not_found"
    http_status = 404


class HoldLapsedError(SchedulingError):
    """The hold expired and its seat went to someone else before the confirmation."""

    code = "hold_lapsed"
    http_status = 409


class ChangeNotAllowedError(SchedulingError):
    """Past the job's policy (too late, or moved too often): HR decides."""

    code = "change_not_allowed"
    http_status = 409


class InvalidSlotError(SchedulingError):
    """HR's slot input is wrong: times, capacity, zone, window or ICS file."""

    code = "invalid_slot"
    http_status = 422
