"""Login throttling in Redis: a rate limit per client address, and lock-outs after failures.

Counters are shared by every API process through Redis. Three rules:

- at most `ATTEMPTS_PER_MINUTE` login attempts per address per minute (a rate limit);
- `USER_FAILURES_TO_LOCK` failed passwords for one account within `FAILURE_WINDOW` lock
  that account for `LOCKOUT` (even the right password is refused meanwhile);
- `ADDRESS_FAILURES_TO_LOCK` failures from one address within the window lock the address,
  whatever accounts it tries (password spraying).

Account keys hash the normalised e-mail, so Redis never holds the address itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

ATTEMPTS_PER_MINUTE = 20
USER_FAILURES_TO_LOCK = 5
ADDRESS_FAILURES_TO_LOCK = 30
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
_PREFIX = "candor:login"


@dataclass(frozen=True, slots=True)
class Throttled:
    reason: str  # "rate_limited", "account_locked" or "address_locked"
    retry_after_seconds: int


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


async def _ttl(redis: Redis, key: str) -> int:
    remaining = int(await redis.ttl(key))
    return remaining if remaining > 0 else int(LOCKOUT.total_seconds())


async def check(redis: Redis, *, email: str, address: str) -> Throttled | None:
    """Count this attempt against the address's rate and say whether it may proceed."""
    account_lock = f"{_PREFIX}:lock:user:{_account(email)}"
    address_lock = f"{_PREFIX}:lock:ip:{address}"
    if await redis.exists(address_lock):
        return Throttled("address_locked", await _ttl(redis, address_lock))
    if await redis.exists(account_lock):
        return Throttled("account_locked", await _ttl(redis, account_lock))
    rate_key = f"{_PREFIX}:rate:ip:{address}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(rate_key)
        pipe.expire(rate_key, 60, nx=True)
        attempts, _ = await pipe.execute()
    if int(attempts) > ATTEMPTS_PER_MINUTE:
        return Throttled("rate_limited", await _ttl(redis, rate_key))
    return None


async def record_failure(redis: Redis, *, email: str, address: str) -> Throttled | None:
    """Count a failed password; returns the lock-out it triggered, if any."""
    window = int(FAILURE_WINDOW.total_seconds())
    lockout = int(LOCKOUT.total_seconds())
    user_key = f"{_PREFIX}:fail:user:{_account(email)}"
    address_key = f"{_PREFIX}:fail:ip:{address}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(user_key)
        pipe.expire(user_key, window, nx=True)
        pipe.incr(address_key)
        pipe.expire(address_key, window, nx=True)
        user_failures, _, address_failures, _ = await pipe.execute()
    if int(address_failures) >= ADDRESS_FAILURES_TO_LOCK:
        await redis.set(f"{_PREFIX}:lock:ip:{address}", "1", ex=lockout)
        await redis.delete(address_key)
        return Throttled("address_locked", lockout)
    if int(user_failures) >= USER_FAILURES_TO_LOCK:
        await redis.set(f"{_PREFIX}:lock:user:{_account(email)}", "1", ex=lockout)
        await redis.delete(user_key)
        return Throttled("account_locked", lockout)
    return None


async def record_success(redis: Redis, *, email: str) -> None:
    await redis.delete(f"{_PREFIX}:fail:user:{_account(email)}")


async def account_lockouts(redis: Redis, emails: list[str]) -> dict[str, int]:
    """The accounts among `emails` that are locked now, with the seconds left on each."""
    if not emails:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for email in emails:
            pipe.ttl(f"{_PREFIX}:lock:user:{_account(email)}")
        remaining = await pipe.execute()
    # TTL is -2 for a missing key and -1 for one without expiry (never set here).
    return {
        email: int(seconds) if int(seconds) > 0 else int(LOCKOUT.total_seconds())
        for email, seconds in zip(emails, remaining, strict=True)
        if int(seconds) != -2
    }


async def clear_account(redis: Redis, *, email: str) -> bool:
    """Lift an account's lock-out and forget its failures; True if it was locked."""
    account = _account(email)
    lock = f"{_PREFIX}:lock:user:{account}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(lock)
        pipe.delete(f"{_PREFIX}:fail:user:{account}")
        was_locked, _ = await pipe.execute()
    return bool(was_locked)
