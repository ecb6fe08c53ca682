"""API tokens as an admin manages them: list, create (plaintext returned once), revoke.

Built on `candor.auth.tokens` (hashing, scopes, the check every API request makes), with
validation that names the form field and an audit row per change. The audit row holds the
token's name, scopes and owner, never the token or its hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.access.errors import AccessInputError, AccessNotFoundError
from candor.audit.service import Action, record
from candor.auth.tokens import KNOWN_SCOPES, IssuedToken, Scope, issue_token
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import ApiToken, AuditEntry, HRUser

log = get_logger(__name__)

MAX_NAME = 100

# What each scope lets a token do, for the admin choosing them.
SCOPE_HELP = {
    Scope.ATS_WRITE: "the ATS posts events (applications, interviews, results)",
    Scope.CALENDAR_READ: "read the working-day calendar",
    Scope.CALENDAR_WRITE: "change holidays, make-up days and year schedules",
    Scope.HR: "an HR user's personal token: the HR API as that user, within their teams",
}


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: ApiToken
    owner: HRUser | None  # the HR user a personal token acts as
    created_by: str | None  # the audit trail's actor; None for tokens made before it


def _snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "name": token.name,
        "scopes": list(token.scopes),
        "hr_user_id": token.hr_user_id,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


async def list_tokens(session: AsyncSession) -> list[TokenRow]:
    """Every token, live ones first, newest first; with the HR user a personal one acts as."""
    rows = (
        await session.execute(
            select(ApiToken, HRUser)
            .outerjoin(HRUser, HRUser.id == ApiToken.hr_user_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    ).all()
    created = await session.execute(
        select(AuditEntry.object_id, AuditEntry.actor).where(
            AuditEntry.action == Action.API_TOKEN_CREATED, AuditEntry.object_type == "api_token"
        )
    )
    creators = dict(created.all())
    return [
        TokenRow(token=token, owner=owner, created_by=creators.get(str(token.id)))
        for token, owner in rows
    ]


async def create_token(
    session: AsyncSession,
    *,
    actor: str,
    name: str,
    scopes: Sequence[str],
    hr_user_id: int | None = None,
) -> IssuedToken:
    """Issue a token; its plaintext is in the result and nowhere else, ever."""
    problems: dict[str, str] = {}
    label = name.strip()
    if not label:
        problems["name"] = "name the token after who uses it, e.g. moka-ats"
    elif len(label) > MAX_NAME:
        problems["name"] = f"use at most {MAX_NAME} characters"
    chosen = set(scopes)
    unknown = chosen - KNOWN_SCOPES
    if unknown:
        problems["scopes"] = f"unknown scopes: {', '.join(sorted(unknown))}"
    elif not chosen:
        problems["scopes"] = "choose at least one scope"
    if Scope.HR in chosen:
        owner = await session.get(HRUser, hr_user_id) if hr_user_id is not None else None
        if owner is None:
            problems["hr_user_id"] = "the hr scope is a person's token: give exactly one HR user"
        elif not owner.is_active:
            problems["hr_user_id"] = f"{owner.email} is deactivated"
    elif hr_user_id is not None:
        problems["hr_user_id"] = "only a token with the hr scope acts as an HR user"
    if problems:
        raise AccessInputError(problems)
    issued = await issue_token(session, name=label, scopes=sorted(chosen), hr_user_id=hr_user_id)
    token = await session.get_one(ApiToken, issued.token_id)
    record(
        session,
        actor=actor,
        action=Action.API_TOKEN_CREATED,
        object_type="api_token",
        object_id=token.id,
        after=_snapshot(token),
    )
    log.info("access.token_created", token_id=token.id, scopes=token.scopes, actor=actor)
    return issued


async def revoke(session: AsyncSession, *, actor: str, token_id: int) -> ApiToken:
    """Revoke a live token: every request with it is refused once this commits."""
    token = await session.scalar(select(ApiToken).where(ApiToken.id == token_id).with_for_update())
    if token is None:
        raise AccessNotFoundError(f"no API token {token_id}")
    if token.revoked_at is not None:
        raise AccessInputError({"revoke": f"token {token.name!r} is already revoked"})
    before = _snapshot(token)
    token.revoked_at = utcnow()
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.API_TOKEN_REVOKED,
        object_type="api_token",
        object_id=token.id,
        before=before,
        after=_snapshot(token),
    )
    log.info("access.token_revoked", token_id=token.id, actor=actor)
    return token
