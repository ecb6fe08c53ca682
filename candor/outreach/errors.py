"""Errors the outreach services raise; the API maps each to one status and error code."""

from __future__ import annotations

from candor.ats.errors import AtsError


class OutreachError(AtsError):
    code = "outreach_error"
    status_code = 409


class InvalidMessageTransitionError(OutreachError):
    code = "invalid_transition"
    status_code = 409


class NoTemplateError(OutreachError):
    """No template fits; the ATS should retry once an admin has added one."""

    code = "outreach_not_configured"
    status_code = 503


class ApprovalRuleNotFoundError(OutreachError):
    code = "not_found"
    status_code = 404


class InvalidRuleScopeError(OutreachError):
    """A rule's team or job does not exist, or the job is in another team."""

    code = "unknown_reference"
    status_code = 422


class TemplateVersionConflictError(OutreachError):
    code = "template_conflict"
    status_code = 409
