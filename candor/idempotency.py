"""`Idempotency-Key` for HR POSTs: a replay gets the first answer, a reuse with another body
or while the first request is still running gets 409.

The key is claimed and committed before the work starts, so a concurrent retry sees it.
The answer is stored by `complete()` inside the work's own transaction, so the work and its
recorded answer commit together or not at all. If the work fails, the claim is released so
the client can retry with the same key. These functions never commit: the caller (the API's
idempotent runner) commits between the claim and the work.

A claim left in flight past `ABANDONED_AFTER` belongs to a request that died; the next retry
takes it over with a conditional update, so of two retries racing for it only one wins and
the other gets 409. Keys are forgotten after a retention period (`prune`, a worker job).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats.errors import AtsError
from candor.clock import utcnow
from candor.models import IdempotencyKey

# A claim older than this belongs to a request that died without releasing it.
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 200


class IdempotencyConflictError(AtsError):
    code = "idempotency_conflict"
    http_status = 409


class IdempotencyKeyInvalidError(AtsError):
    code = "idempotency_key_invalid"
    http_status = 400


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: Any


def request_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyInvalidError("send an Idempotency-Key header with every POST")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyInvalidError(
            f"Idempotency-Key must be printable and at most {MAX_KEY_LENGTH} characters"
        )
    return key.strip()


async def claim(
    session: AsyncSession, *, principal: str, key: str, fingerprint: str
) -> StoredAnswer | None:
    """Claim `key` for this request; or the stored answer if it already completed."""
    existing = await _find(session, principal, key)
    if existing is not None:
        return await _answer_or_take_over(session, existing, fingerprint)
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(
                    principal=principal, key=key, request_sha256=fingerprint, in_flight=True
                )
            )
    except IntegrityError:
        existing = await _find(session, principal, key)
        if existing is None:  # pragma: no cover - the constraint said it exists
            raise
        return await _answer_or_take_over(session, existing, fingerprint)
    return None


async def _answer_or_take_over(
    session: AsyncSession, existing: IdempotencyKey, fingerprint: str
) -> StoredAnswer | None:
    if existing.request_sha256 != fingerprint:
        raise IdempotencyConflictError("this Idempotency-Key was used with another request")
    if existing.in_flight:
        if utcnow() - existing.created_at < ABANDONED_AFTER:
            raise _in_flight()
        await _take_over(session, existing)
        return None
    assert existing.response_status is not None
    return StoredAnswer(existing.response_status, existing.response_body)


async def _take_over(session: AsyncSession, abandoned: IdempotencyKey) -> None:
    """Renew an abandoned claim, unless another retry renewed (or anyone settled) it since
    we read it. On PostgreSQL a concurrent taker's UPDATE waits for the row lock, then finds
    the claim changed; on SQLite the single writer orders the two."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == abandoned.id,
                IdempotencyKey.in_flight.is_(True),
                IdempotencyKey.created_at == abandoned.created_at,
            )
            .values(created_at=utcnow())
        ),
    )
    if result.rowcount != 1:
        raise _in_flight()


def _in_flight() -> IdempotencyConflictError:
    return IdempotencyConflictError("a request with this Idempotency-Key is in flight")


async def complete(
    session: AsyncSession, *, principal: str, key: str, status_code: int, body: Any
) -> None:
    record = await _find(session, principal, key)
    if record is None:  # pragma: no cover - claim() created it
        raise RuntimeError("completing an idempotency key that was never claimed")
    record.in_flight = False
    record.response_status = status_code
    record.response_body = body
    await session.flush()


async def release(session: AsyncSession, *, principal: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.principal == principal,
            IdempotencyKey.key == key,
            IdempotencyKey.in_flight.is_(True),
        )
    )


async def prune(session: AsyncSession, *, retention: timedelta, now: datetime) -> int:
    """Forget keys claimed more than `retention` before `now`; a claim still in flight is
    kept until it is abandoned, so a slow request can always record its answer. Returns how
    many were deleted."""
    cutoff = now - retention
    result = cast(
        CursorResult[Any],
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.created_at < cutoff,
                or_(
                    IdempotencyKey.in_flight.is_(False),
                    IdempotencyKey.created_at < now - ABANDONED_AFTER,
                ),
            )
        ),
    )
    return result.rowcount


async def _find(session: AsyncSession, principal: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.principal == principal, IdempotencyKey.key == key
        )
    )
