"""`Idempotency-Key` for HR POSTs: a replay gets the first answer, a reuse with another body
or while the first request is still running gets 409.

The key is claimed and committed before the work starts, so a concurrent retry sees it.
The answer is stored by `complete()` inside the work's own transaction, so the work and its
recorded answer commit together or not at all. If the work fails, the claim is released so
the client can retry with the same key. These functions never commit: the caller (the API's
idempotent runner) commits between the claim and the work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
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
        return _answer_or_conflict(existing, fingerprint)
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
        return _answer_or_conflict(existing, fingerprint)
    return None


def _answer_or_conflict(existing: IdempotencyKey, fingerprint: str) -> StoredAnswer | None:
    if existing.request_sha256 != fingerprint:
        raise IdempotencyConflictError("this Idempotency-Key was used with another request")
    if existing.in_flight:
        if utcnow() - existing.created_at < ABANDONED_AFTER:
            raise IdempotencyConflictError("a request with this Idempotency-Key is in flight")
        existing.created_at = utcnow()  # take over an abandoned claim
        return None
    assert existing.response_status is not None
    return StoredAnswer(existing.response_status, existing.response_body)


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


async def _find(session: AsyncSession, principal: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.principal == principal, IdempotencyKey.key == key
        )
    )
