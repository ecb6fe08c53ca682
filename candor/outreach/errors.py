"""Errors the outreach services raise, each with its status and error code for the API."""

from __future__ import annotations

from candor.ats.errors import AtsError


class OutreachError(AtsError):
    code = "outreach_error"
    http_status = 409


class InvalidMessageTransitionError(OutreachError):
    code = "invalid_transition"
    http_status = 409


class NoTemplateError(OutreachError):
    """No template fits; the ATS should retry once an admin has added one."""

    code = "outreach_not_configured"
    http_status = 503


class ApprovalRuleNotFoundError(OutreachError):
    code = "not_found"
    http_status = 404


class InvalidRuleScopeError(OutreachError):
    """A rule's team or job does not exist, or the job is in another team."""

    code = "unknown_reference"
    http_status = 422


class TemplateVersionConflictError(OutreachError):
    code = "template_conflict"
    http_status = 409
