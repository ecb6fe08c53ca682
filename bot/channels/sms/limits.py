"""How often one number may be texted, counted in Redis so every process shares the count.

Three fixed windows per number: the minute, the hour and the China-time day (the providers
count their daily limits by China's calendar day). Taking a slot increments all three at
once; when any is over its limit the increments are taken back and the caller is told how
long until the fullest window opens again. A fixed window lets two texts straddle its edge,
which the provider's own (higher) limits absorb; in exchange it needs only INCR, the same on
Redis and fakeredis. A slot is given back when the provider refused the text, so a refusal
does not use up the candidate's allowance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from candor.clock import BUSINESS_TZ

PREFIX = "candor:sms:limit"


@dataclass(frozen=True, slots=True)
class Slot:
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    start: datetime
    end: datetime
    limit: int


class NumberLimits:
    def __init__(
        self, redis: Redis, *, per_minute: int, per_hour: int, per_day: int, prefix: str = PREFIX
    ) -> None:
        self.redis = redis
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.per_day = per_day
        self.prefix = prefix

    def windows(self, now: datetime) -> list[Window]:
        local = now.astimezone(BUSINESS_TZ)
        minute = local.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        day = hour.replace(hour=0)
        return [
            Window("minute", minute, minute + timedelta(minutes=1), self.per_minute),
            Window("hour", hour, hour + timedelta(hours=1), self.per_hour),
            # Calendar arithmetic in local time; China has no daylight saving time.
            Window("day", day, day + timedelta(days=1), self.per_day),
        ]

    async def take(self, number: str, now: datetime) -> Slot | float:
        """A slot for one text to `number`, or the seconds until one opens (nothing taken)."""
        windows = self.windows(now)
        keys = tuple(f"{self.prefix}:{number}:{w.name}:{int(w.start.timestamp())}" for w in windows)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, window in zip(keys, windows, strict=True):
                pipe.incr(key)
                # Relative to `now`, so the window lives as long as it should by the same clock.
                pipe.expire(key, math.ceil((window.end - now).total_seconds()) + 60)
            results = await pipe.execute()
        counts = [int(c) for c in results[::2]]
        full = [w for w, c in zip(windows, counts, strict=True) if c > w.limit]
        if not full:
            return Slot(keys)
        await self.give_back(Slot(keys))
        return max((w.end - now).total_seconds() for w in full)

    async def give_back(self, slot: Slot) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in slot.keys:
                pipe.decr(key)
            await pipe.execute()

    async def used(self, number: str, now: datetime) -> dict[str, int]:
        """Texts counted in each current window (for operators and tests)."""
        windows = self.windows(now)
        values = await self.redis.mget(
            [f"{self.prefix}:{number}:{w.name}:{int(w.start.timestamp())}" for w in windows]
        )
        return {w.name: int(v or 0) for w, v in zip(windows, values, strict=True)}
