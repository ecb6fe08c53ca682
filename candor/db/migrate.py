"""Run Alembic migrations programmatically (`candor db upgrade`, tests, the demo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from candor.db.engine import create_engine
from candor.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    """`upgrade` for callers already inside an event loop (tests, async commands)."""
    await _on_connection(settings, lambda config: command.upgrade(config, revision))


async def downgrade_async(settings: Settings, revision: str) -> None:
    await _on_connection(settings, lambda config: command.downgrade(config, revision))


async def _on_connection(settings: Settings, action: Callable[[Config], None]) -> None:
    engine = create_engine(settings)
    try:
        # Not begun here: Alembic owns the transaction, so a migration's autocommit block
        # (CREATE INDEX CONCURRENTLY) can end it.
        async with engine.connect() as connection:

            def run(sync_connection: Connection) -> None:
                config = alembic_config(settings)
                config.attributes["connection"] = sync_connection
                action(config)

            await connection.run_sync(run)
            await connection.commit()
    finally:
        await engine.dispose()
