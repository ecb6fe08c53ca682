"""The workers' heartbeat: each worker process writes one to Redis every HEARTBEAT_INTERVAL,
and /metrics counts those fresher than HEARTBEAT_TTL as `candor_workers_alive`.

One sorted set (member: host:pid, score: the time of the beat) rather than a key per worker,
so counting is one ZCOUNT instead of a scan of the keyspace; the set itself expires
HEARTBEAT_TTL after the last beat, so a host whose workers all stopped leaves nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time

from redis.asyncio import Redis

from candor.logging import get_logger

log = get_logger(__name__)

HEARTBEAT_KEY = "candor:worker-heartbeats"
HEARTBEAT_INTERVAL = 15.0
HEARTBEAT_TTL = 60


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(redis: Redis, *, name: str | None = None, now: float | None = None) -> None:
    now = time.time() if now is None else now
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(HEARTBEAT_KEY, {name or worker_name(): now})
        pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - HEARTBEAT_TTL)
        pipe.expire(HEARTBEAT_KEY, HEARTBEAT_TTL)
        await pipe.execute()


async def forget(redis: Redis, *, name: str | None = None) -> None:
    """A worker stopping cleanly leaves the count at once."""
    await redis.zrem(HEARTBEAT_KEY, name or worker_name())


async def alive(redis: Redis, *, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return int(await redis.zcount(HEARTBEAT_KEY, now - HEARTBEAT_TTL, "+inf"))


async def run_heartbeat(
    redis: Redis, stop: asyncio.Event, *, interval: float = HEARTBEAT_INTERVAL
) -> None:
    """Beat until `stop`; a Redis outage is logged and ridden out."""
    name = worker_name()
    while not stop.is_set():
        try:
            await beat(redis, name=name)
        except Exception as exc:
            log.warning("worker.heartbeat_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    with contextlib.suppress(Exception):
        await forget(redis, name=name)
