"""Rate limits for anonymous chat and manual binding, counted in Redis.

Every API process (and the embedded mode's in-process Redis) shares the counters, so a limit
holds however many processes answer the chat. A limit is a fixed window: at most `limit`
hits per `window` for one subject (a chat account, a client address, an application, or
`OVERALL`). Windows are numbered from the caller's `now`, so an injected clock moves them;
Redis only expires the counters of windows long past.

`hit` counts one attempt against several limits in order (the client's own first) and stops
at the first one exceeded, so a flooding client does not also spend everybody's overall
budget.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

_PREFIX = "candor:chat:limit"
OVERALL = "all"


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Limited:
    limit: Limit
    retry_after_seconds: int

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_seconds / 60))


# Messages of chat accounts not bound to any candidate (instructions, commands, links).
ANON_MESSAGES_PER_ACCOUNT = Limit("anon_account", 20, timedelta(minutes=1))
ANON_MESSAGES_PER_ADDRESS = Limit("anon_address", 60, timedelta(minutes=1))
ANON_MESSAGES_OVERALL = Limit("anon_all", 1200, timedelta(minutes=1))
# "绑定 <application code> <phone or e-mail>": each may e-mail a one-time code.
CODE_REQUESTS_PER_ACCOUNT = Limit("bind_account", 5, timedelta(hours=1))
# A campus or an office shares one address: more room than one account gets.
CODE_REQUESTS_PER_ADDRESS = Limit("bind_address", 20, timedelta(hours=1))
CODE_REQUESTS_OVERALL = Limit("bind_all", 300, timedelta(hours=1))
CODE_EMAILS_PER_APPLICATION = Limit("bind_application", 5, timedelta(days=1))
# Typed one-time codes, right or wrong.
CODE_GUESSES_PER_ACCOUNT = Limit("otp_account", 10, timedelta(hours=1))
CODE_GUESSES_PER_ADDRESS = Limit("otp_address", 30, timedelta(hours=1))
CODE_GUESSES_OVERALL = Limit("otp_all", 1000, timedelta(hours=1))
# Wrong codes for one application in one window: reaching it locks manual binding long.
FAILED_CODES_PER_APPLICATION = Limit("otp_failures", 10, timedelta(days=1))


def subject(*parts: object) -> str:
    """A counter's subject: hashed, so Redis holds no chat id or address in clear."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _window(limit: Limit, now: datetime) -> tuple[int, int]:
    """The window `now` falls in, and the seconds left of it."""
    seconds = int(limit.window.total_seconds())
    elapsed = int(now.timestamp())
    return elapsed // seconds, seconds - elapsed % seconds


async def count(redis: Redis, limit: Limit, who: str, *, now: datetime) -> int:
    """Count one hit for `who` in the current window; the window's count so far."""
    index, _ = _window(limit, now)
    key = f"{_PREFIX}:{limit.name}:{who}:{index}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        # Kept for two windows: an injected clock a little behind still finds its window.
        pipe.expire(key, 2 * int(limit.window.total_seconds()), nx=True)
        hits, _ = await pipe.execute()
    return int(hits)


async def hit(redis: Redis, *checks: tuple[Limit, str], now: datetime) -> Limited | None:
    """Count one attempt against each (limit, subject) in order; the first exceeded, or None
    when the attempt may proceed."""
    for limit, who in checks:
        if await count(redis, limit, who, now=now) > limit.limit:
            return Limited(limit, _window(limit, now)[1])
    return None
