"""The privacy services' errors, each with a stable code."""

from __future__ import annotations

from candor.errors import CandorError


class PrivacyError(CandorError):
    code = "privacy_error"
    http_status = 409


class CandidateNotFoundError(PrivacyError):
    code = "candidate_not_found"
    http_status = 404


class DeletionAlreadyRequestedError(PrivacyError):
    code = "deletion_already_requested"


class DeletionNotRequestedError(PrivacyError):
    code = "deletion_not_requested"
    http_status = 404


class DeletionConfirmationExpiredError(PrivacyError):
    code = "deletion_confirmation_expired"
    http_status = 410


class DeletionInProgressError(PrivacyError):
    code = "deletion_in_progress"


class DeletionFinishedError(PrivacyError):
    code = "deletion_already_finished"


class LegalHoldError(PrivacyError):
    code = "legal_hold_invalid"
