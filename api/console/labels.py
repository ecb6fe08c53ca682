"""People's words for the codes the console shows (roles, stages, states...).

The domain hands the edge its enum values; the pages show them through the `label` filter,
which looks each up in the catalogue under the context "enum". English shows the code as it
always did; zh_CN shows the catalogue's word. A code not listed here shows as itself."""

from __future__ import annotations

from enum import Enum

from api.console.i18n import current_locale, translations

CONTEXT = "enum"


def NP_(context: str, message: str) -> str:  # noqa: N802 - marks for extraction only
    return message


LABELS = (
    # Roles
    NP_("enum", "recruiter"),
    NP_("enum", "team_lead"),
    NP_("enum", "admin"),
    # Stages and application statuses
    NP_("enum", "applied"),
    NP_("enum", "ai_interview"),
    NP_("enum", "phone_interview"),
    NP_("enum", "onsite_interview"),
    NP_("enum", "offer"),
    NP_("enum", "hired"),
    NP_("enum", "active"),
    NP_("enum", "on_hold"),
    NP_("enum", "rejected"),
    NP_("enum", "withdrawn"),
    # Interview kinds, decisions (a template's outcome)
    NP_("enum", "ai_video"),
    NP_("enum", "phone"),
    NP_("enum", "onsite"),
    NP_("enum", "advance"),
    NP_("enum", "reject"),
    NP_("enum", "hold"),
    # Message, task, question, review and model states
    NP_("enum", "pending_approval"),
    NP_("enum", "needs_attention"),
    NP_("enum", "approved"),
    NP_("enum", "edited_and_approved"),
    NP_("enum", "queued"),
    NP_("enum", "sent"),
    NP_("enum", "delivered"),
    NP_("enum", "failed"),
    NP_("enum", "undeliverable"),
    NP_("enum", "pending"),
    NP_("enum", "answered"),
    NP_("enum", "dismissed"),
    NP_("enum", "new_intent"),
    NP_("enum", "candidate"),
    NP_("enum", "retired"),
    NP_("enum", "discarded"),
    NP_("enum", "reschedule"),
    NP_("enum", "withdrawal"),
    NP_("enum", "handoff"),
    NP_("enum", "open"),
    NP_("enum", "closed"),
    NP_("enum", "in_flight"),
    NP_("enum", "exhausted"),
    NP_("enum", "cancelled"),
    NP_("enum", "permanent_failure"),
    # Interview bookings and attendance
    NP_("enum", "held"),
    NP_("enum", "confirmed"),
    NP_("enum", "attended"),
    NP_("enum", "no_show"),
    # Whether a result kept the feedback promise (KPI splits)
    NP_("enum", "met"),
    NP_("enum", "missed"),
    NP_("enum", "unknown"),
    # Template locales
    NP_("enum", "zh-CN"),
    NP_("enum", "en"),
)


def label(value: object) -> str:
    """The word for an enum member or its value in the request's language."""
    code = value.value if isinstance(value, Enum) else value
    if code is None:
        return "—"
    return translations(current_locale()).pgettext(CONTEXT, str(code))
