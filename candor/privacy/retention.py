"""Retention: each class of personal data is kept for its configured period, then purged.

A class names the rows past their period (`rows`) and what purging does to them (`purge`).
Texts are erased in place where a KPI fact is derived from the row (the counts stay);
rows nothing counts are deleted. `purge(..., dry_run=True)` only counts. A real run writes
one audit row with the counts per class. Rows already purged are not counted again, so a
second run reports zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Delete,
    Text,
    Update,
    cast,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.logging import get_logger
from candor.models import (
    Application,
    AuditEntry,
    BindingToken,
    Candidate,
    ChatDelivery,
    ChatMessage,
    DeletionRequest,
    DialogueState,
    ManualBinding,
    MisreadMessage,
    OutreachMessage,
)
from candor.models.dialogue import ChatDeliveryState
from candor.models.enums import ApplicationStatus, Stage
from candor.models.nlu_review import ReviewState
from candor.models.privacy import OPEN_STATES, DeletionState
from candor.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DataClass:
    name: str
    description: str
    # (settings, now) -> the condition on the table's rows that are past their period.
    rows: Callable[[Settings, datetime], ColumnElement[bool]]
    table: type
    purge: Callable[[ColumnElement[bool]], Update | Delete]


def _unhired_chats(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Messages older than the period, of a candidate never hired whose last result message
    went out before the period too (and who has no application still moving)."""
    cutoff = now - timedelta(days=settings.retention_unhired_chat_days)
    candidate = ChatMessage.candidate_id
    hired = exists().where(
        Application.candidate_id == candidate,
        or_(Application.stage == Stage.HIRED, Application.status == ApplicationStatus.HIRED),
    )
    moving = exists().where(
        Application.candidate_id == candidate, Application.status == ApplicationStatus.ACTIVE
    )
    last_result = (
        select(func.max(OutreachMessage.sent_at))
        .join(Application, Application.id == OutreachMessage.application_id)
        .where(Application.candidate_id == candidate)
        .scalar_subquery()
    )
    # A candidate never sent a result counts from their applications' last change (a
    # NULL result time would keep their chats for ever).
    last_change = (
        select(func.max(Application.updated_at))
        .where(Application.candidate_id == candidate)
        .scalar_subquery()
    )
    return (
        candidate.is_not(None)
        & _has_content()
        & (ChatMessage.at < cutoff)
        & ~hired
        & ~moving
        & (func.coalesce(last_result, last_change, ChatMessage.at) < cutoff)
    )


def _has_content() -> ColumnElement[bool]:
    return ChatMessage.text.is_not(None) | ChatMessage.payload.is_not(None)


def _unbound_chats(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Messages older than the period written while the account was bound to nobody: no
    candidate's (the export leaves them out too), whatever the account became since."""
    cutoff = now - timedelta(days=settings.retention_unhired_chat_days)
    return ChatMessage.candidate_id.is_(None) & _has_content() & (ChatMessage.at < cutoff)


def _quiet_dialogue_states(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """The dialogue's memory (recent messages, slots) of a conversation quiet for the
    period, whoever it is with: a conversation that resumes starts a fresh memory."""
    cutoff = now - timedelta(days=settings.retention_unhired_chat_days)
    return DialogueState.updated_at < cutoff


def _old_review_items(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Misread messages queued for review longer than the period and not approved; an
    approved one (masked) is the NLU's training data and stays."""
    cutoff = now - timedelta(days=settings.retention_unhired_chat_days)
    return (MisreadMessage.received_at < cutoff) & (MisreadMessage.state != ReviewState.APPROVED)


def _spent_binding_tokens(settings: Settings, now: datetime) -> ColumnElement[bool]:
    cutoff = now - timedelta(days=settings.retention_binding_token_days)
    return (
        (BindingToken.used_at < cutoff)
        | (BindingToken.revoked_at < cutoff)
        | (BindingToken.expires_at < cutoff)
    )


def _expired_binding_codes(settings: Settings, now: datetime) -> ColumnElement[bool]:
    return ManualBinding.code_hash.is_not(None) & (ManualBinding.code_expires_at < now)


def _settled_chat_deliveries(settings: Settings, now: datetime) -> ColumnElement[bool]:
    cutoff = now - timedelta(days=settings.retention_chat_delivery_days)
    return (
        ChatDelivery.state.in_((ChatDeliveryState.SENT, ChatDeliveryState.FAILED))
        & (ChatDelivery.next_attempt_at < cutoff)
        # The address is sealed: its blind index says whether it is still there.
        & ((ChatDelivery.body != "") | ChatDelivery.recipient_index.is_not(None))
    )


def _old_audit_details(settings: Settings, now: datetime) -> ColumnElement[bool]:
    cutoff = now - timedelta(days=settings.retention_audit_detail_days)
    return (AuditEntry.at < cutoff) & (
        AuditEntry.before.is_not(None)
        | AuditEntry.after.is_not(None)
        | (func.length(cast(AuditEntry.details, Text)) > 2)
    )


CLASSES: tuple[DataClass, ...] = (
    DataClass(
        "unhired_chats",
        "chat texts of candidates not hired, after the last result",
        _unhired_chats,
        ChatMessage,
        lambda where: update(ChatMessage).where(where).values(text=None, payload=null()),
    ),
    DataClass(
        "unbound_chats",
        "chat texts written while the account was bound to nobody",
        _unbound_chats,
        ChatMessage,
        lambda where: update(ChatMessage).where(where).values(text=None, payload=null()),
    ),
    DataClass(
        "dialogue_states",
        "the dialogue's memory of conversations quiet for the period",
        _quiet_dialogue_states,
        DialogueState,
        lambda where: delete(DialogueState).where(where),
    ),
    DataClass(
        "nlu_review",
        "misread messages queued for review, not approved for training",
        _old_review_items,
        MisreadMessage,
        lambda where: delete(MisreadMessage).where(where),
    ),
    DataClass(
        "binding_tokens",
        "binding tokens used, revoked or expired",
        _spent_binding_tokens,
        BindingToken,
        lambda where: delete(BindingToken).where(where),
    ),
    DataClass(
        "binding_codes",
        "expired one-time binding codes",
        _expired_binding_codes,
        ManualBinding,
        lambda where: update(ManualBinding).where(where).values(code_hash=None),
    ),
    DataClass(
        "chat_deliveries",
        "addresses and texts of sent or failed direct messages",
        _settled_chat_deliveries,
        ChatDelivery,
        lambda where: (
            update(ChatDelivery)
            .where(where)
            .values(recipient="", recipient_index=None, subject="", body="", last_error=None)
        ),
    ),
    DataClass(
        "audit_details",
        "the before/after/details of old audit rows",
        _old_audit_details,
        AuditEntry,
        lambda where: (
            update(AuditEntry).where(where).values(before=null(), after=null(), details={})
        ),
    ),
)


UNHIRED_CANDIDATES = "unhired_candidates"
UNHIRED_CANDIDATES_DESCRIPTION = (
    "candidates never hired whose applications have not changed for the period: a deletion "
    "request each, erased after the cooling-off period"
)
# Deletion requests opened per run: the erasure works through them a request at a time.
UNHIRED_CANDIDATES_PER_RUN = 500


def _unhired_candidates(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Candidates never hired, with no application active or changed within the period,
    not changed themselves within it, and with no deletion request open or done."""
    cutoff = now - timedelta(days=settings.retention_unhired_candidate_days)
    hired_or_recent = exists().where(
        Application.candidate_id == Candidate.id,
        or_(
            Application.stage == Stage.HIRED,
            Application.status.in_((ApplicationStatus.HIRED, ApplicationStatus.ACTIVE)),
            Application.updated_at >= cutoff,
        ),
    )
    requested = exists().where(
        DeletionRequest.candidate_id == Candidate.id,
        DeletionRequest.state.in_((*OPEN_STATES, DeletionState.DONE)),
    )
    return (Candidate.updated_at < cutoff) & ~hired_or_recent & ~requested


async def _request_unhired_deletions(
    session: AsyncSession, settings: Settings, *, now: datetime, dry_run: bool
) -> int:
    where = _unhired_candidates(settings, now)
    if dry_run:
        return int(await session.scalar(select(func.count(Candidate.id)).where(where)) or 0)
    # Imported here: deletion imports the audit and chat texts this module does not need.
    from candor.privacy import deletion

    due = await session.scalars(
        select(Candidate.id).where(where).order_by(Candidate.id).limit(UNHIRED_CANDIDATES_PER_RUN)
    )
    opened = 0
    for candidate_id in due.all():
        await deletion.open_by_admin(
            session,
            candidate_id,
            actor="system:retention",
            via="retention",
            settings=settings,
            now=now,
        )
        opened += 1
    return opened


async def purge(
    session: AsyncSession, settings: Settings, *, now: datetime, dry_run: bool, actor: str
) -> dict[str, int]:
    """Count (dry run) or purge every class past its period; rows per class (for
    `unhired_candidates`, the deletion requests opened)."""
    report: dict[str, int] = {
        UNHIRED_CANDIDATES: await _request_unhired_deletions(
            session, settings, now=now, dry_run=dry_run
        )
    }
    for data_class in CLASSES:
        where = data_class.rows(settings, now)
        if dry_run:
            report[data_class.name] = int(
                await session.scalar(
                    select(func.count()).select_from(data_class.table).where(where)
                )
                or 0
            )
            continue
        result = await session.execute(
            data_class.purge(where).execution_options(synchronize_session=False)
        )
        report[data_class.name] = int(getattr(result, "rowcount", 0) or 0)
    if not dry_run:
        record(
            session,
            actor=actor,
            action=Action.PRIVACY_PURGED,
            object_type="retention",
            object_id="purge",
            details={"rows": report},
            at=now,
        )
    log.info("privacy.purged" if not dry_run else "privacy.purge_counted", **report)
    return report
