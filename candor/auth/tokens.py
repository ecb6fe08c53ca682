"""Integration API tokens: random, shown once, stored as SHA-256, scoped and revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import utcnow
from candor.models import ApiToken

TOKEN_PREFIX = "cnd_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


class Scope:
    ATS_WRITE = "ats:write"
    CALENDAR_READ = "calendar:read"  # the working-day calendar and its coverage
    CALENDAR_WRITE = "calendar:write"  # admin holidays, make-up days and year schedules
    HR = "hr"  # a person's token: acts as that HR user, within their teams


KNOWN_SCOPES = frozenset({Scope.ATS_WRITE, Scope.CALENDAR_READ, Scope.CALENDAR_WRITE, Scope.HR})


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token_id: int
    plaintext: str


def hash_token(plaintext: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; no salt or KDF is needed.
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def issue_token(
    session: AsyncSession,
    *,
    name: str,
    scopes: list[str],
    plaintext: str | None = None,
    hr_user_id: int | None = None,
) -> IssuedToken:
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    if (Scope.HR in scopes) != (hr_user_id is not None):
        raise ValueError("the hr scope is for a person's token: give exactly one HR user")
    value = plaintext or TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=hash_token(value),
        scopes=sorted(set(scopes)),
        hr_user_id=hr_user_id,
    )
    session.add(token)
    await session.flush()
    return IssuedToken(token_id=token.id, plaintext=value)


async def authenticate(session: AsyncSession, plaintext: str) -> ApiToken | None:
    """The token if it exists and is not revoked; otherwise None."""
    token = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
    )
    if token is None or token.revoked_at is not None:
        return None
    return token


async def revoke_token(session: AsyncSession, token_id: int) -> bool:
    token = await session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    await session.flush()
    return True
