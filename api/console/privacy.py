"""Deletion requests in the console: an admin opens one for a candidate (who asked by other
means), cancels it during the cooling-off period, or puts it on legal hold and releases it.

Admin only; every change goes through `candor.privacy.deletion`, audited there, and every
POST depends on CheckedForm (CSRF). A refused change (a second request, a hold on a
finished erasure) is an error page with the service's message and status, never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.console.deps import CheckedForm, ConsoleAdmin, ConsoleHTTPError, form_textarea
from api.deps import RuntimeDep, SessionDep
from candor.clock import utcnow
from candor.ids import RowId
from candor.privacy import deletion
from candor.privacy.errors import PrivacyError

router = APIRouter(prefix="/console", include_in_schema=False)


async def _change(
    session: AsyncSession, candidate_id: int, done: str, change: Callable[[], Awaitable[object]]
) -> Response:
    try:
        await change()
    except PrivacyError as exc:
        await session.rollback()
        raise ConsoleHTTPError(exc.http_status, exc.message) from exc
    return RedirectResponse(
        f"/console/candidates/{candidate_id}?done={done}#privacy", status_code=303
    )


@router.post("/candidates/{candidate_id}/deletion")
async def open_deletion(
    candidate_id: RowId,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    return await _change(
        session,
        candidate_id,
        "deletion_requested",
        lambda: deletion.open_by_admin(
            session,
            candidate_id,
            actor=user.actor,
            via="console",
            settings=runtime.settings,
            now=utcnow(),
        ),
    )


@router.post("/candidates/{candidate_id}/deletion/cancel")
async def cancel_deletion(
    candidate_id: RowId, user: ConsoleAdmin, form: CheckedForm, session: SessionDep
) -> Response:
    return await _change(
        session,
        candidate_id,
        "deletion_cancelled",
        lambda: deletion.cancel(session, candidate_id, actor=user.actor, now=utcnow()),
    )


@router.post("/candidates/{candidate_id}/legal-hold")
async def set_legal_hold(
    candidate_id: RowId, user: ConsoleAdmin, form: CheckedForm, session: SessionDep
) -> Response:
    reason = form_textarea(form, "reason")
    return await _change(
        session,
        candidate_id,
        "legal_hold_set",
        lambda: deletion.set_legal_hold(
            session, candidate_id, actor=user.actor, reason=reason, now=utcnow()
        ),
    )


@router.post("/candidates/{candidate_id}/legal-hold/release")
async def release_legal_hold(
    candidate_id: RowId, user: ConsoleAdmin, form: CheckedForm, session: SessionDep
) -> Response:
    return await _change(
        session,
        candidate_id,
        "legal_hold_released",
        lambda: deletion.release_legal_hold(session, candidate_id, actor=user.actor, now=utcnow()),
    )
