"""Alembic environment: migrations run through the same async engine as the application."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from candor.db.engine import create_engine
from candor.models import Base
from candor.settings import Settings, get_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    settings = context.config.attributes.get("settings") or get_settings()
    asyncio.run(_run_online(settings))


main()
