"""Human-facing application codes, `AP-YYYY-NNNNNN`, allocated without gaps or races."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import CodeSequence

APPLICATION_CODE_RE = re.compile(r"^AP-(\d{4})-(\d{6})$")
MAX_PER_YEAR = 999_999


class CodeSpaceExhaustedError(RuntimeError):
    pass


def format_application_code(year: int, number: int) -> str:
    return f"AP-{year:04d}-{number:06d}"


async def allocate_application_codes(session: AsyncSession, year: int, count: int) -> list[str]:
    """Reserve `count` consecutive codes for `year` in the caller's transaction.

    The counter row is updated in place, which locks it on PostgreSQL until commit and is
    serialised by SQLite's single writer, so concurrent allocators never hand out a code twice.
    """
    if count <= 0:
        return []
    prefix = f"AP-{year:04d}"
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(CodeSequence).values(prefix=prefix, last_value=0).on_conflict_do_nothing()
    )
    last = (
        await session.execute(
            update(CodeSequence)
            .where(CodeSequence.prefix == prefix)
            .values(last_value=CodeSequence.last_value + count)
            .returning(CodeSequence.last_value)
        )
    ).scalar_one()
    if last > MAX_PER_YEAR:
        raise CodeSpaceExhaustedError(f"more than {MAX_PER_YEAR} applications in {year}")
    first = last - count + 1
    return [format_application_code(year, n) for n in range(first, last + 1)]


async def current_counter(session: AsyncSession, year: int) -> int:
    value = await session.scalar(
        select(CodeSequence.last_value).where(CodeSequence.prefix == f"AP-{year:04d}")
    )
    return value or 0
