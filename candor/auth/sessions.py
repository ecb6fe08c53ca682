"""Console sessions: server-side in Redis, addressed by a random id held in a cookie.

Redis stores the session under a hash of its id, so reading Redis does not yield a usable
cookie. Each session carries its CSRF token (a synchronizer token): every console form
posts it back and `csrf_matches` compares it in constant time. Sessions expire after
`IDLE_TIMEOUT` without use, and at the latest `ABSOLUTE_TIMEOUT` after login.

Each user's sessions are also listed under the user (a Redis set of the session keys), so
that deactivating a user or resetting their password can end every session they hold.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from candor.clock import utcnow

IDLE_TIMEOUT = timedelta(hours=8)
ABSOLUTE_TIMEOUT = timedelta(hours=24)
_PREFIX = "candor:console:session"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    user_id: int
    csrf_token: str
    created_at: datetime


def _key(session_id: str) -> str:
    return f"{_PREFIX}:{hashlib.sha256(session_id.encode()).hexdigest()}"


def _user_key(user_id: int) -> str:
    return f"{_PREFIX}s-of-user:{user_id}"


async def create_session(redis: Redis, user_id: int) -> str:
    """Start a session for `user_id`; returns the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    record = {
        "user_id": user_id,
        "csrf_token": secrets.token_urlsafe(32),
        "created_at": utcnow().isoformat(),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(_key(session_id), json.dumps(record), ex=IDLE_TIMEOUT)
        # Members outlive their sessions harmlessly: deleting an expired key is a no-op.
        pipe.sadd(_user_key(user_id), _key(session_id))
        pipe.expire(_user_key(user_id), ABSOLUTE_TIMEOUT)
        await pipe.execute()
    return session_id


async def load_session(redis: Redis, session_id: str) -> ConsoleSession | None:
    """The live session, its idle timer restarted; None when unknown or expired."""
    if not session_id or len(session_id) > 128:
        return None
    raw = await redis.get(_key(session_id))
    if raw is None:
        return None
    record = json.loads(raw)
    created_at = datetime.fromisoformat(record["created_at"])
    if utcnow() - created_at >= ABSOLUTE_TIMEOUT:
        await redis.delete(_key(session_id))
        return None
    await redis.expire(_key(session_id), IDLE_TIMEOUT)
    return ConsoleSession(
        user_id=int(record["user_id"]),
        csrf_token=str(record["csrf_token"]),
        created_at=created_at,
    )


async def end_session(redis: Redis, session_id: str) -> None:
    await redis.delete(_key(session_id))


async def end_user_sessions(redis: Redis, user_id: int, *, keep: str | None = None) -> int:
    """End every session of `user_id` but the one with id `keep` (a user changing their
    own password stays logged in where they did it); returns how many were still live."""
    kept = _key(keep) if keep else None
    keys = [str(key) for key in await redis.smembers(_user_key(user_id)) if key != kept]
    ended = int(await redis.delete(*keys)) if keys else 0
    if keys:
        await redis.srem(_user_key(user_id), *keys)
    return ended


def csrf_matches(expected: str, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(expected.encode(), submitted.encode())
