"""Engine construction, with the SQLite settings that make it a safe single-writer store."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from candor.crypto.fields import use_keyring
from candor.settings import Environment, Settings


def create_engine(settings: Settings) -> AsyncEngine:
    # The sealed columns (candor.crypto) read and write with these settings' keys.
    use_keyring(settings.keyring)
    # A statement's parameters can be a plaintext phone or chat id (legacy lookups, the
    # re-encryption pass's guard): in production an error's text and the log never show them.
    hide_parameters = settings.env is Environment.PRODUCTION
    if settings.uses_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.database_url,
            echo=settings.database_echo,
            hide_parameters=hide_parameters,
            connect_args={"timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        settings.database_url,
        echo=settings.database_echo,
        hide_parameters=hide_parameters,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
    )
    _ping_when_idle(engine)
    return engine


# A pooled connection is checked before use only when it sat unused for this long.
# SQLAlchemy's `pool_pre_ping` checks on every checkout, and asyncpg's ping is three round
# trips (BEGIN, ";", ROLLBACK): with two transactions per chat message that was six of its
# eighteen database round trips. A connection that worked a moment ago is as good as a
# pinged one; if the server went away since (a restart), the first statement on it fails
# like any statement in flight at that moment would, and SQLAlchemy then replaces every
# connection of the pool older than the failure, so callers' own retries get new ones.
PING_AFTER_IDLE_SECONDS = 2.0
_LAST_USED = "candor_last_used"


def _ping_when_idle(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        # No entry: a connection opened just now (reconnecting clears `info`).
        if last_used is None or time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # As pre-ping does: this connection and the pool's older ones are replaced,
            # and the checkout is tried again on a new connection.
            raise exc.InvalidatePoolError() from error


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, open transactions.

    The sqlite3 module's implicit BEGIN breaks SAVEPOINT and defers the write lock to the
    first write; BEGIN IMMEDIATE takes the single writer's lock up front, so two writers
    queue on the busy timeout instead of failing half-way with "database is locked".
    """

    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
