"""Redis clients: a real server in scaled mode, an in-process emulation when embedded."""

from __future__ import annotations

import fakeredis
from redis.asyncio import Redis

from candor.settings import Settings


def create_redis(settings: Settings, *, server: fakeredis.FakeServer | None = None) -> Redis:
    """Return an asyncio Redis client.

    `memory://` gives a fakeredis client; clients built with the same `server` share data,
    which is how one embedded process behaves like several clients of one Redis.
    """
    if settings.uses_embedded_redis:
        client: Redis = fakeredis.FakeAsyncRedis(
            server=server or fakeredis.FakeServer(), decode_responses=True
        )
        return client
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
