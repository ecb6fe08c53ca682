"""Writing and reading the audit trail.

`record` adds the row to the caller's session, so an audited change and its audit row
commit or roll back together: there is no audited change without its row, nor a row for a
change that did not happen. Services call it; routers never do.

What is recorded where: `audit_log` holds one row per decision a person made (approve,
edit-and-approve, reject, template saves, approval-rule changes, exports) and per setting
an admin changed. A message's machine steps (drafted, queued, sent, delivered, failed) are
its state history in `message_transitions`, written by `outreach.service.transition`; the
audit page links every message row to that history rather than copying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import utcnow
from candor.models.audit import AuditEntry


class Action:
    """Every audited action, as `<object>.<verb>`."""

    MESSAGE_APPROVED = "message.approved"
    MESSAGE_EDITED_AND_APPROVED = "message.edited_and_approved"
    MESSAGE_REJECTED = "message.rejected"
    MESSAGE_REDRAFTED = "message.redrafted"
    TEMPLATE_SAVED = "template.saved"
    APPROVAL_RULE_SET = "approval_rule.set"
    APPROVAL_RULE_DELETED = "approval_rule.deleted"
    KPI_EXPORTED = "kpi.exported"
    # Access administration (candor/access):
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105 - an action name, not a secret
    USER_LOCKOUT_CLEARED = "user.lockout_cleared"
    API_TOKEN_CREATED = "api_token.created"  # noqa: S105
    API_TOKEN_REVOKED = "api_token.revoked"  # noqa: S105
    TEAM_CREATED = "team.created"
    TEAM_RENAMED = "team.renamed"
    # Outbound webhooks to the ATS (candor.webhooks): admins' changes, and the worker's
    # disabling of an endpoint that failed for too long.
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_SECRET_ROTATED = "webhook_endpoint.secret_rotated"  # noqa: S105
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
    WEBHOOK_DELIVERY_REPLAYED = "webhook_delivery.replayed"
    # Written by the chat side once it exists (see docs/console.md):
    IDENTITY_BOUND = "identity.bound"
    CONVERSATION_HANDED_OFF = "conversation.handed_off"
    # HR in the conversation (candor.dialogue.hr_actions: console, API and CLI alike):
    CONVERSATION_REPLIED = "conversation.replied"
    CONVERSATION_HANDED_BACK = "conversation.handed_back"
    # A person read a transcript (personal data), in the console or over the API.
    TRANSCRIPT_READ = "transcript.read"
    JOB_QUESTION_APPROVED = "job_question.approved"
    JOB_QUESTION_EDITED_AND_APPROVED = "job_question.edited_and_approved"
    JOB_QUESTION_REJECTED = "job_question.rejected"
    HR_TASK_DONE = "hr_task.done"
    IDENTITY_UNBOUND = "identity.unbound"
    # The candidate's own word in chat (candor.chat.consent): stopping every proactive
    # message, resuming them, joining the talent pool.
    CANDIDATE_CONSENT_CHANGED = "candidate.consent_changed"
    # The candidate confirmed the next round an advance message asked them to confirm.
    NEXT_ROUND_CONFIRMED = "application.next_round_confirmed"
    # The NLU review loop (candor.nlu_review): verdicts on misunderstood messages, models.
    NLU_REVIEW_INTENT_ASSIGNED = "nlu_review.intent_assigned"
    NLU_REVIEW_NEW_INTENT = "nlu_review.new_intent_needed"
    NLU_REVIEW_DISMISSED = "nlu_review.dismissed"
    NLU_REVIEW_REOPENED = "nlu_review.reopened"
    NLU_MODEL_TRAINED = "nlu_model.trained"
    NLU_MODEL_ACCEPTED = "nlu_model.accepted"
    NLU_MODEL_DISCARDED = "nlu_model.discarded"
    NLU_MODEL_REVERTED = "nlu_model.reverted"
    # An HR user's own WeCom / Telegram account for approvals in chat (candor.hr_chat).
    HR_CHAT_BOUND = "hr_chat.bound"
    HR_CHAT_UNBOUND = "hr_chat.unbound"
    # Candidates' personal data (candor.privacy): deletion requests, legal holds, erasures
    # and retention purges.
    PRIVACY_DELETION_REQUESTED = "privacy.deletion_requested"
    PRIVACY_DELETION_CANCELLED = "privacy.deletion_cancelled"
    PRIVACY_LEGAL_HOLD_SET = "privacy.legal_hold_set"
    PRIVACY_LEGAL_HOLD_RELEASED = "privacy.legal_hold_released"
    PRIVACY_ERASURE_STARTED = "privacy.erasure_started"
    PRIVACY_CANDIDATE_ERASED = "privacy.candidate_erased"
    PRIVACY_PURGED = "privacy.purged"
    # Candidates' rights over their data (candor.privacy): a copy asked for in chat (its
    # link created, downloaded, or refused as used or expired), a copy HR took, and HR
    # looking a candidate up over the API (the console's page is a `transcript.read`).
    DATA_EXPORT_CREATED = "data_export.created"
    DATA_EXPORT_DOWNLOADED = "data_export.downloaded"
    DATA_EXPORT_REFUSED = "data_export.refused"
    CANDIDATE_EXPORTED = "candidate.exported"
    CANDIDATE_VIEWED = "candidate.viewed"
    SCHEDULING_POLICY_SET = "scheduling.policy_set"
    SCHEDULING_SLOTS_CREATED = "scheduling.slots_created"
    SCHEDULING_SLOT_CANCELLED = "scheduling.slot_cancelled"
    BOOKING_MADE_BY_HR = "booking.made_by_hr"
    BOOKING_MOVED_BY_HR = "booking.moved_by_hr"
    BOOKING_CANCELLED_BY_HR = "booking.cancelled_by_hr"
    BOOKING_ATTENDANCE_RECORDED = "booking.attendance_recorded"
    # A reminder of the interview not sent: quiet hours ran into it, it was superseded by
    # the later one, or the candidate has no channel for it (candor.scheduling.reminders).
    BOOKING_REMINDER_SKIPPED = "booking.reminder_skipped"


# Reading a candidate's personal data: what "who viewed whom" lists.
ACCESS_ACTIONS = (
    Action.TRANSCRIPT_READ,
    Action.CANDIDATE_VIEWED,
    Action.CANDIDATE_EXPORTED,
    Action.DATA_EXPORT_DOWNLOADED,
)


ACTIONS = tuple(
    value for name, value in vars(Action).items() if name.isupper() and isinstance(value, str)
)


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    team_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to the caller's transaction (flushed with it, never committed here)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(
        at=at or utcnow(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        team_id=team_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        details=dict(details or {}),
    )
    session.add(entry)
    return entry


async def recorded_since(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    since: datetime,
) -> bool:
    """Whether this actor's `action` on this object has a row at or after `since`: reads of
    personal data are recorded once per window, not once per page load."""
    found = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.object_type == object_type,
            AuditEntry.object_id == str(object_id),
            AuditEntry.actor == actor,
            AuditEntry.action == action,
            AuditEntry.at >= since,
        )
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    # Any of these actions (the access view's reads); with `action`, both must hold.
    actions: tuple[str, ...] | None = None
    object_type: str | None = None
    object_id: str | None = None
    team_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_id: int | None = None


async def list_entries(session: AsyncSession, filters: AuditFilter) -> list[AuditEntry]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    query = select(AuditEntry)
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.actions is not None:
        query = query.where(AuditEntry.action.in_(filters.actions))
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.team_id is not None:
        query = query.where(AuditEntry.team_id == filters.team_id)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if filters.before_id is not None:
        query = query.where(AuditEntry.id < filters.before_id)
    query = query.order_by(AuditEntry.id.desc()).limit(filters.limit)
    return list((await session.scalars(query)).all())
