"""A PostgreSQL database made for one run and dropped afterwards: the tests' scaled fixtures,
the benchmarks and the backup drill each need one, on the server the admin URL names."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def admin_execute(admin_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE refuse to run in one)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def with_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path=f"/{database}").geturl()


@contextmanager
def postgres_database(prefix: str, admin_url: str) -> Iterator[str]:
    """A new, empty database named `<prefix>_<random>`, dropped afterwards even on failure
    (retried for 30 s: a benchmark may have restarted the server)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(admin_url, name)
    finally:
        for attempt in range(30):
            try:
                drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                asyncio.run(admin_execute(admin_url, drop))
                break
            except Exception:  # the server may be restarting (the fault benchmark)
                if attempt == 29:
                    print(f"could not drop database {name}", file=sys.stderr)
                time.sleep(1.0)
