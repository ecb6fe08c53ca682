from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from candor.db.migrate import downgrade_async, upgrade_async
from candor.models import Base
from candor.runtime import Runtime


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_the_models(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_migrations_downgrade_and_upgrade_again(runtime: Runtime) -> None:
    await runtime.engine.dispose()  # release connections so DDL is not blocked
    await downgrade_async(runtime.settings, "base")
    async with runtime.engine.connect() as connection:
        assert await connection.run_sync(_tables) <= {"alembic_version"}
    await runtime.engine.dispose()

    await upgrade_async(runtime.settings)

    async with runtime.engine.connect() as connection:
        assert set(Base.metadata.tables) <= await connection.run_sync(_tables)
        assert await connection.run_sync(_diff) == []
