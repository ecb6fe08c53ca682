"""The API's error shapes for failures that are not the caller's fault."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.app import create_app
from candor.db import engine as db_engine
from candor.runtime import Runtime
from candor.settings import Settings
from tests.conftest import REDIS_URL, TEST_SECRET
from tests.factories import make_hr_token, make_hr_user

pytestmark = pytest.mark.scaled


@pytest.fixture
async def postgres_runtime(postgres_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(
        Settings(env="test", secret_key=TEST_SECRET, database_url=postgres_url, redis_url=REDIS_URL)
    )
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def _end_every_other_backend(url: str) -> None:
    """What a database restart does to the app's pooled connections."""
    admin = create_async_engine(url, poolclass=NullPool)
    try:
        async with admin.begin() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await admin.dispose()


async def test_a_lost_database_connection_is_a_503_to_retry_not_a_500(
    postgres_runtime: Runtime, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)  # never pinged here
    async with postgres_runtime.transaction() as session:
        token = await make_hr_token(session, await make_hr_user(session))
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(runtime=postgres_runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/api/v1/templates", headers=headers)).status_code == 200
        await _end_every_other_backend(postgres_url)

        lost = await http.get("/api/v1/templates", headers=headers)
        again = await http.get("/api/v1/templates", headers=headers)

    assert lost.status_code == 503
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["error"]["code"] == "database_unavailable"
    assert again.status_code == 200
