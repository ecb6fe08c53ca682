from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from candor.importer import service
from candor.importer.reader import InvalidRow, read_file
from candor.importer.rows import Kind
from candor.models import Application, Candidate, CodeSequence
from candor.runtime import Runtime
from tests.candor.importer.helpers import (
    APPLICATIONS,
    candidate,
    count,
    load_company,
    write_csv,
)


async def test_the_service_writes_in_the_callers_transaction_and_never_commits(
    runtime: Runtime, tmp_path: Path
) -> None:
    read = read_file(
        write_csv(tmp_path / "candidates.csv", [candidate(n) for n in range(1_500)]),
        Kind.CANDIDATES,
    )

    async with runtime.sessionmaker() as session, session.begin():
        plan = await service.plan_import(session, Kind.CANDIDATES, read.rows)
        counts = await service.apply_import(session, plan, source="import:candidates.csv")
        seen_inside = await session.scalar(select(func.count()).select_from(Candidate))
        await session.rollback()

    assert (counts.inserted, counts.updated) == (1_500, 0)
    assert seen_inside == 1_500
    assert await count(runtime, Candidate) == 0


async def test_plan_sorts_rows_into_writable_and_invalid(runtime: Runtime, tmp_path: Path) -> None:
    await load_company(runtime, tmp_path, ".csv")
    rows = [
        APPLICATIONS[0],
        {**APPLICATIONS[0], "external_id": "A5", "job_external_id": "J404"},
        {**APPLICATIONS[0], "external_id": "A6", "candidate_external_id": "C404"},
    ]
    read = read_file(write_csv(tmp_path / "applications.csv", rows), Kind.APPLICATIONS)

    async with runtime.sessionmaker() as session, session.begin():
        plan = await service.plan_import(session, Kind.APPLICATIONS, read.rows)
        await session.rollback()

    assert [parsed.line for parsed in plan.rows] == [2]
    assert set(plan.existing) == {"A1"}
    assert plan.invalid == [
        InvalidRow(3, "job_external_id: unknown job 'J404'"),
        InvalidRow(4, "candidate_external_id: unknown candidate 'C404'"),
    ]
    assert await count(runtime, Application) == 2
    assert await count(runtime, CodeSequence) == 2
