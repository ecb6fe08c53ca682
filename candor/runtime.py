"""The process-wide resources every entry point needs, created once and closed once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from candor.db.engine import create_engine, create_sessionmaker

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from candor.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        from candor.redis import create_redis

        engine = create_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=create_redis(settings),
        )

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work for workers and commands: commit on success, roll back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    try:
        yield runtime
    finally:
        await runtime.aclose()


@asynccontextmanager
async def database_transaction(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One unit of work for a command that needs the database and nothing else: commit on
    success, roll back on error. No Redis client is made, so the command does not import
    the Redis client (nor, embedded, fakeredis): half a second of `candor sla due`'s and
    `candor bind-link`'s CPU (bench/cli_startup.py)."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()
