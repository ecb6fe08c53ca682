"""PostgreSQL's pooled connections: checked before use only after sitting idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from candor.db import engine as db_engine
from candor.settings import Settings
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.scaled


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    settings = Settings(env="test", secret_key=TEST_SECRET, database_url=postgres_url)
    created = db_engine.create_engine(settings)
    try:
        yield created
    finally:
        await created.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.begin() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    """End a backend from another connection, as a server restart would."""
    admin = create_async_engine(url, poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_an_idle_connection_the_server_closed_is_replaced_before_use(
    engine: AsyncEngine, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 0.05)
    pid = await _backend_pid(engine)
    await _terminate(postgres_url, pid)
    await asyncio.sleep(0.1)  # idle for longer than the threshold

    # The checkout pings the idle connection, finds it dead and opens a new one.
    assert await _backend_pid(engine) != pid


async def test_a_connection_used_just_now_is_not_pinged_and_a_failure_replaces_the_pool(
    engine: AsyncEngine, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pid = await _backend_pid(engine)
    await _terminate(postgres_url, pid)

    # Not pinged: the statement fails, as one in flight at a restart would ...
    with pytest.raises(DBAPIError) as failure:
        await _backend_pid(engine)
    assert failure.value.connection_invalidated
    # ... and the next transaction gets a new connection.
    assert await _backend_pid(engine) != pid
