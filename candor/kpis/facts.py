"""Rebuilding the KPI facts (`candor.models.kpis`) from their views.

The database keeps the facts itself: triggers (migration 0009) refresh the facts a write
touches, in the writing transaction. Rebuilding is for data written with the triggers
disabled (a bulk load) or to check that the kept facts equal their definitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models.kpis import (
    ApplicationFacts,
    ApprovalFacts,
    ConversationFacts,
    CsatFacts,
    DeliveryFacts,
    HandoffFacts,
    InterviewFacts,
    ReplyFacts,
)

FACTS: tuple[Table, ...] = tuple(
    model.__table__  # type: ignore[misc]
    for model in (
        InterviewFacts,
        ApplicationFacts,
        ReplyFacts,
        ConversationFacts,
        HandoffFacts,
        ApprovalFacts,
        CsatFacts,
        DeliveryFacts,
    )
)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    table: str
    rows: int
    seconds: float


def _view(table: Table) -> str:
    return f"v_{table.name}"


async def rebuild(session: AsyncSession) -> list[Rebuilt]:
    """Replace every fact with its view's rows, in the caller's transaction."""
    done = []
    for table in FACTS:
        started = time.perf_counter()
        columns = ", ".join(column.name for column in table.columns)
        await session.execute(table.delete())
        await session.execute(
            text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {_view(table)}")  # noqa: S608 - names from the models
        )
        rows = int(await session.scalar(select(func.count()).select_from(table)) or 0)
        done.append(Rebuilt(table.name, rows, time.perf_counter() - started))
    return done


async def differences(session: AsyncSession) -> dict[str, int]:
    """Per facts table, the rows that differ from its view (either way): 0 when exact."""
    found = {}
    for table in FACTS:
        columns = ", ".join(column.name for column in table.columns)
        count = 0
        for left, right in ((table.name, _view(table)), (_view(table), table.name)):
            count += int(
                await session.scalar(
                    text(
                        f"SELECT count(*) FROM (SELECT {columns} FROM {left} "  # noqa: S608
                        f"EXCEPT SELECT {columns} FROM {right}) d"
                    )
                )
                or 0
            )
        found[table.name] = count
    return found
