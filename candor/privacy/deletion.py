"""Deletion requests: asked for in chat (confirmed by the candidate) or opened by an admin,
the cooling-off period, cancelling, legal holds, and which requests are due.

Every function works in the caller's transaction (flushes, never commits) and raises a
`PrivacyError` with a stable code for what cannot be done. Each change a person makes is
audited (object `deletion_request`, so the audit row outlives the erasure it records).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.logging import get_logger
from candor.models import Candidate, DeletionRequest
from candor.models.privacy import OPEN_STATES, DeletionState
from candor.privacy.errors import (
    CandidateNotFoundError,
    DeletionAlreadyRequestedError,
    DeletionConfirmationExpiredError,
    DeletionFinishedError,
    DeletionInProgressError,
    DeletionNotRequestedError,
    LegalHoldError,
)
from candor.privacy.queries import is_hidden
from candor.settings import Settings

log = get_logger(__name__)

AUDIT_OBJECT = "deletion_request"
MAX_REASON_CHARS = 1000


def ready_to_erase(request: DeletionRequest, now: datetime) -> bool:
    return (
        request.state is DeletionState.PENDING
        and request.legal_hold_since is None
        and request.erase_after is not None
        and request.erase_after <= now
    )


async def lock_request(session: AsyncSession, request_id: int) -> DeletionRequest | None:
    return await session.get(
        DeletionRequest, request_id, with_for_update=True, populate_existing=True
    )


async def open_request(session: AsyncSession, candidate_id: int) -> DeletionRequest | None:
    """The candidate's request that is not closed yet, if any."""
    return await session.scalar(
        select(DeletionRequest)
        .where(
            DeletionRequest.candidate_id == candidate_id,
            DeletionRequest.state.in_(OPEN_STATES),
        )
        .with_for_update()
    )


async def latest_request(
    session: AsyncSession, candidate_id: int, *, lock: bool = True
) -> DeletionRequest | None:
    query = (
        select(DeletionRequest)
        .where(DeletionRequest.candidate_id == candidate_id)
        .order_by(DeletionRequest.id.desc())
        .limit(1)
    )
    return await session.scalar(query.with_for_update() if lock else query)


def _audit(
    session: AsyncSession,
    request: DeletionRequest,
    action: str,
    *,
    actor: str,
    now: datetime,
    details: dict[str, object] | None = None,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        object_type=AUDIT_OBJECT,
        object_id=request.id,
        details={"candidate_id": request.candidate_id, "via": request.via, **(details or {})},
        at=now,
    )


async def _add(session: AsyncSession, request: DeletionRequest) -> DeletionRequest:
    """Insert the request; another open one (a race the check above lost) is refused by the
    partial unique index, inside a SAVEPOINT so the caller's transaction survives."""
    try:
        async with session.begin_nested():
            session.add(request)
            await session.flush()
    except IntegrityError:
        raise DeletionAlreadyRequestedError(
            "a deletion request for this candidate is already open"
        ) from None
    return request


async def _refuse_second(session: AsyncSession, candidate_id: int) -> None:
    existing = await open_request(session, candidate_id)
    if existing is not None:
        raise DeletionAlreadyRequestedError(
            "a deletion request for this candidate is already open",
            details={"request_id": existing.id, "state": existing.state.value},
        )


async def _refuse_erased(session: AsyncSession, candidate_id: int) -> None:
    """A candidate erased already has nothing left to erase: a second erasure would look for
    the placeholders the first one left ("[erased]", "X-5" in "X-50")."""
    if await is_hidden(session, candidate_id):
        raise DeletionFinishedError("this candidate's data was erased already")


async def ask_in_chat(
    session: AsyncSession, candidate: Candidate, *, settings: Settings, now: datetime
) -> DeletionRequest:
    """The candidate asked to be deleted: a request waiting for their confirmation."""
    await _refuse_second(session, candidate.id)
    await _refuse_erased(session, candidate.id)
    request = await _add(
        session,
        DeletionRequest(
            candidate_id=candidate.id,
            state=DeletionState.AWAITING_CONFIRMATION,
            requested_by="candidate",
            via="chat",
            requested_at=now,
            confirm_by=now + timedelta(minutes=settings.privacy_deletion_confirm_minutes),
            subject={},
            progress={},
        ),
    )
    log.info("privacy.deletion_asked", request_id=request.id)
    return request


def _cooling_off(request: DeletionRequest, settings: Settings, now: datetime) -> None:
    request.state = DeletionState.PENDING
    request.confirmed_at = now
    request.erase_after = now + timedelta(days=settings.privacy_deletion_cooling_off_days)


async def confirm_in_chat(
    session: AsyncSession, candidate: Candidate, *, settings: Settings, now: datetime
) -> DeletionRequest:
    """The candidate confirmed: the cooling-off period starts."""
    request = await open_request(session, candidate.id)
    if request is None or request.state is not DeletionState.AWAITING_CONFIRMATION:
        raise DeletionNotRequestedError("there is no deletion request waiting for confirmation")
    if request.confirm_by is None or request.confirm_by < now:
        request.state = DeletionState.EXPIRED
        await session.flush()
        raise DeletionConfirmationExpiredError(
            "the deletion request expired before it was confirmed; ask again"
        )
    _cooling_off(request, settings, now)
    _audit(
        session,
        request,
        Action.PRIVACY_DELETION_REQUESTED,
        actor="candidate",
        now=now,
        details={"erase_after": request.erase_after.isoformat() if request.erase_after else None},
    )
    await session.flush()
    log.info("privacy.deletion_confirmed", request_id=request.id)
    return request


async def open_by_admin(
    session: AsyncSession,
    candidate_id: int,
    *,
    actor: str,
    via: str,
    settings: Settings,
    now: datetime,
) -> DeletionRequest:
    """An admin opened a request for the candidate (who asked by other means): it waits out
    the same cooling-off period."""
    candidate = await session.get(Candidate, candidate_id, with_for_update=True)
    if candidate is None:
        raise CandidateNotFoundError(f"no candidate {candidate_id}")
    await _refuse_second(session, candidate_id)
    await _refuse_erased(session, candidate_id)
    request = DeletionRequest(
        candidate_id=candidate_id,
        state=DeletionState.PENDING,
        requested_by=actor,
        via=via,
        requested_at=now,
        subject={},
        progress={},
    )
    _cooling_off(request, settings, now)
    await _add(session, request)
    _audit(
        session,
        request,
        Action.PRIVACY_DELETION_REQUESTED,
        actor=actor,
        now=now,
        details={"erase_after": request.erase_after.isoformat() if request.erase_after else None},
    )
    log.info("privacy.deletion_opened", request_id=request.id)
    return request


async def cancel(
    session: AsyncSession, candidate_id: int, *, actor: str, now: datetime
) -> DeletionRequest:
    """The candidate (or an admin) called the deletion off before erasure began."""
    request = await open_request(session, candidate_id)
    if request is None:
        raise DeletionNotRequestedError("there is no open deletion request")
    if request.state is DeletionState.ERASING:
        raise DeletionInProgressError("the erasure has started and cannot be called off")
    confirmed = request.state is DeletionState.PENDING
    request.state = DeletionState.CANCELLED
    request.closed_by = actor
    if confirmed:
        _audit(session, request, Action.PRIVACY_DELETION_CANCELLED, actor=actor, now=now)
    await session.flush()
    log.info("privacy.deletion_cancelled", request_id=request.id)
    return request


def _holdable(request: DeletionRequest | None) -> DeletionRequest:
    if request is None:
        raise DeletionNotRequestedError("there is no deletion request for this candidate")
    if request.state is DeletionState.DONE:
        raise DeletionFinishedError("this candidate's data was erased already: nothing to hold")
    if request.state is DeletionState.ERASING:
        raise DeletionInProgressError("the erasure has started and cannot be held")
    if request.state is not DeletionState.PENDING:
        raise DeletionNotRequestedError("there is no open deletion request for this candidate")
    return request


async def set_legal_hold(
    session: AsyncSession, candidate_id: int, *, actor: str, reason: str, now: datetime
) -> DeletionRequest:
    """Keep the candidate's data past the cooling-off period (a dispute, a legal duty)."""
    reason = reason.strip()
    if not reason:
        raise LegalHoldError("a legal hold needs a reason", http_status=422)
    if len(reason) > MAX_REASON_CHARS:
        raise LegalHoldError(
            f"the reason is longer than {MAX_REASON_CHARS} characters", http_status=422
        )
    request = _holdable(await latest_request(session, candidate_id))
    if request.legal_hold_since is not None:
        raise LegalHoldError("the request is on legal hold already")
    request.legal_hold_since = now
    request.legal_hold_by = actor
    request.legal_hold_reason = reason
    _audit(session, request, Action.PRIVACY_LEGAL_HOLD_SET, actor=actor, now=now)
    await session.flush()
    log.info("privacy.legal_hold_set", request_id=request.id)
    return request


async def release_legal_hold(
    session: AsyncSession, candidate_id: int, *, actor: str, now: datetime
) -> DeletionRequest:
    request = _holdable(await latest_request(session, candidate_id))
    if request.legal_hold_since is None:
        raise LegalHoldError("the request is not on legal hold")
    request.legal_hold_since = None
    request.legal_hold_by = None
    request.legal_hold_reason = None
    _audit(session, request, Action.PRIVACY_LEGAL_HOLD_RELEASED, actor=actor, now=now)
    await session.flush()
    log.info("privacy.legal_hold_released", request_id=request.id)
    return request


async def expire_unconfirmed(session: AsyncSession, *, now: datetime) -> int:
    """Requests asked for in chat and never confirmed in time are closed."""
    requests = await session.scalars(
        select(DeletionRequest)
        .where(
            DeletionRequest.state == DeletionState.AWAITING_CONFIRMATION,
            DeletionRequest.confirm_by < now,
        )
        .with_for_update(skip_locked=True)
    )
    count = 0
    for request in requests:
        request.state = DeletionState.EXPIRED
        count += 1
    await session.flush()
    return count


async def due_request_ids(session: AsyncSession, *, now: datetime) -> list[int]:
    """Requests to erase now: past their cooling-off and not held, or already erasing (a
    process died half way)."""
    rows = await session.scalars(
        select(DeletionRequest.id)
        .where(
            (DeletionRequest.state == DeletionState.ERASING)
            | (
                (DeletionRequest.state == DeletionState.PENDING)
                & DeletionRequest.legal_hold_since.is_(None)
                & (DeletionRequest.erase_after <= now)
            )
        )
        .order_by(DeletionRequest.id)
    )
    return list(rows)
