"""Redis clients: a real server in scaled mode, an in-process emulation when embedded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool, Redis

if TYPE_CHECKING:
    import fakeredis

    from candor.settings import Settings

REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_WAIT_S = 5.0


def create_redis(settings: Settings, *, server: fakeredis.FakeServer | None = None) -> Redis:
    """Return an asyncio Redis client.

    `memory://` gives a fakeredis client; clients built with the same `server` share data,
    which is how one embedded process behaves like several clients of one Redis.
    """
    if settings.uses_embedded_redis:
        # Imported here: a third of a second that scaled mode never needs.
        import fakeredis

        client: Redis = fakeredis.FakeAsyncRedis(
            server=server or fakeredis.FakeServer(), decode_responses=True
        )
        return client
    # A full default pool fails at once (MaxConnectionsError); under a burst, waiting a
    # moment for a free connection is the better answer.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_WAIT_S,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
