"""Test fixtures: every database and Redis test runs twice.

- `embedded`: a SQLite file (copied from a migrated template) and fakeredis.
- `scaled`: the machine's real PostgreSQL (a database created and migrated for this run,
  tables truncated before each test) and real Redis (a dedicated db index, flushed).

With CI=true an unreachable PostgreSQL or Redis ends the run with an error instead of
skipping the scaled half.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import httpx
import pytest

from candor.db.migrate import upgrade
from candor.devtools.scratch_database import postgres_database
from candor.models import Base
from candor.runtime import Runtime
from candor.settings import Settings
from tests.app_client import app_client

POSTGRES_ADMIN_URL = os.environ.get(
    "CANDOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CANDOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"

pytest_plugins = ["tests.outreach_world", "tests.console_world", "tests.wecom_world"]


def cannot_run_here(message: str) -> NoReturn:
    """A test whose tool or data is missing: skipped on a developer's machine, failed under
    CI=true, where a check that never ran must not pass."""
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests of the real Rasa engine run last: `python3 dev.py test` sets Rasa up and trains
    # it beside the suite, so by then the model is ready (or nearly).
    items.sort(key=lambda item: item.get_closest_marker("real_rasa") is not None)
    if not any(item.get_closest_marker("scaled") for item in items):
        return
    missing = [
        name
        for name, url, port in (
            ("PostgreSQL", POSTGRES_ADMIN_URL, 5432),
            ("Redis", REDIS_URL, 6379),
        )
        if not _reachable(url, port)
    ]
    if not missing:
        return
    message = f"{' and '.join(missing)} unreachable; scaled-mode tests need them"
    if IN_CI:
        raise pytest.UsageError(f"CI=true: {message}")
    skip = pytest.mark.skip(reason=message)
    for item in items:
        if item.get_closest_marker("scaled"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this run, migrated with Alembic, dropped at the end."""
    with postgres_database("candor_test", POSTGRES_ADMIN_URL) as url:
        upgrade(Settings(database_url=url, env="test", secret_key=TEST_SECRET))
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "candor.sqlite3"
    upgrade(
        Settings(database_url=f"sqlite+aiosqlite:///{path}", env="test", secret_key=TEST_SECRET)
    )
    return path


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """Environment variables for running `candor` as a process on a fresh SQLite file."""
    return {
        "CANDOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "CANDOR_REDIS_URL": "memory://",
        "CANDOR_ENV": "development",
    }


@pytest.fixture(params=["embedded", pytest.param("scaled", marks=pytest.mark.scaled)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "embedded":
        template: Path = request.getfixturevalue("sqlite_template")
        database = tmp_path / "candor.sqlite3"
        shutil.copyfile(template, database)
        return Settings(
            env="test",
            secret_key=TEST_SECRET,
            database_url=f"sqlite+aiosqlite:///{database}",
            redis_url="memory://",
        )
    url: str = request.getfixturevalue("postgres_url")
    return Settings(env="test", secret_key=TEST_SECRET, database_url=url, redis_url=REDIS_URL)


async def _reset_scaled_state(runtime: Runtime) -> None:
    # DELETE is much faster than TRUNCATE on a few small tables; children go first.
    async with runtime.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
    await runtime.redis.flushdb()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    if not settings.uses_sqlite:
        await _reset_scaled_state(runtime)
    try:
        yield runtime
    finally:
        await runtime.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime) as http:
        yield http
