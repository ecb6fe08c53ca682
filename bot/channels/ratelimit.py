"""Send-rate limits shared by every process through Redis.

Two limits, as Telegram documents them: at most one message per interval to one chat, and
at most N messages per second overall. Each is a Redis key, so N API processes and N
workers together stay under them. A provider's "retry after S seconds" blocks the chat for
S seconds for everyone (`block`).

The overall limit counts per wall-clock second (INCR on a key named after the second): simple,
atomic without scripts, and the same on Redis and fakeredis. A send whose slot is more than
`max_wait` away is not made to wait: the caller gets the time left and retries later.
"""

from __future__ import annotations

import asyncio
import math
import time

from redis.asyncio import Redis


class RedisRateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        per_chat_interval: float = 1.0,
        per_second: int = 30,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.per_chat_ms = max(1, int(per_chat_interval * 1000))
        self.per_second = per_second

    def _chat_key(self, chat: str) -> str:
        return f"{self.prefix}:chat:{chat}"

    async def acquire(self, chat: str, *, max_wait: float) -> float | None:
        """Take a send slot for `chat`, waiting up to `max_wait` seconds for it; None when
        taken, else the seconds still to wait (nothing taken)."""
        deadline = time.monotonic() + max_wait
        while True:
            if await self.redis.set(self._chat_key(chat), "1", nx=True, px=self.per_chat_ms):
                break
            left_ms = await self.redis.pttl(self._chat_key(chat))
            wait = max(left_ms, 1) / 1000 if left_ms > 0 else 0.001
            if time.monotonic() + wait > deadline:
                return wait
            await asyncio.sleep(wait)
        while True:
            now = time.time()
            second = math.floor(now)
            key = f"{self.prefix}:second:{second}"
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2)
                count, _ = await pipe.execute()
            if int(count) <= self.per_second:
                return None
            wait = second + 1 - now
            if time.monotonic() + wait > deadline:
                # Give the chat slot back: this send is not happening now.
                await self.redis.delete(self._chat_key(chat))
                return wait
            await asyncio.sleep(wait)

    async def block(self, chat: str, seconds: float) -> None:
        """The provider said to wait: nobody sends to this chat for `seconds`."""
        await self.redis.set(self._chat_key(chat), "1", px=max(1, int(seconds * 1000)))
