from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from candor.importer.cli import run_import
from candor.models import Candidate, Team
from candor.runtime import Runtime
from candor.settings import Settings
from tests.candor.importer.helpers import TEAMS, all_rows, candidate, count, write_csv
from tests.conftest import TEST_SECRET


async def test_one_bad_row_among_10000_writes_nothing_and_names_its_line(
    runtime: Runtime, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [candidate(n) for n in range(10_000)]
    # Line 1 is the header, so the record at index 5015 starts on line 5017.
    records[5015]["email"] = "zhang.wei.example.com"
    path = write_csv(tmp_path / "candidates.csv", records)

    exit_code = await asyncio.to_thread(run_import, settings, path)

    assert exit_code == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0].startswith(
        "line 5017: email: value is not a valid email address"
    )
    assert "nothing written: 1 row invalid" in captured.err
    assert "10,000 rows read, 0 inserted, 0 updated, 1 invalid (nothing written)" in captured.out
    assert await count(runtime, Candidate) == 0


async def test_skip_invalid_writes_the_valid_rows_and_still_lists_the_invalid_ones(
    runtime: Runtime, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [candidate(n) for n in range(2_500)]
    records[10]["consent_contact"] = "maybe"
    records[2_000]["preferred_channels"] = ["wechat", "fax"]
    records[2_400] = candidate(3)
    path = write_csv(tmp_path / "candidates.csv", records)

    exit_code = await asyncio.to_thread(run_import, settings, path, skip_invalid=True)

    assert exit_code == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "line 12: consent_contact: expected true/false, 1/0, yes/no or 是/否, got 'maybe'",
        "line 2002: preferred_channels[1]: Input should be "
        "'wechat', 'telegram', 'email', 'web' or 'sms'",
        "line 2402: duplicate external_id 'C3' (first on line 5)",
    ]
    assert "2,500 rows read, 2,497 inserted, 0 updated, 3 invalid;" in captured.out
    assert await count(runtime, Candidate) == 2_497
    async with runtime.sessionmaker() as session:
        skipped = await session.scalars(
            select(Candidate.external_id).where(Candidate.external_id.in_(["C10", "C2000"]))
        )
        assert list(skipped) == []


async def test_gbk_files_import_with_the_encoding_option(
    runtime: Runtime, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "teams.csv", TEAMS, encoding="gbk")

    refused = await asyncio.to_thread(run_import, settings, path)
    refusal = capsys.readouterr().err
    accepted = await asyncio.to_thread(run_import, settings, path, encoding="gbk")

    assert refused == 2
    assert "error: line 2: not valid utf-8-sig" in refusal
    assert "--encoding gbk" in refusal
    assert accepted == 0
    assert [team.name for team in await all_rows(runtime, Team)] == ["招聘一组", "Platform"]


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings whose database is never opened: these files fail before any query."""
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
        redis_url="memory://",
    )


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("export.csv", "external_id,name\n", {}, "cannot tell what export.csv holds"),
        ("jobs_teams.csv", "external_id,name\n", {}, "names several kinds (teams, jobs)"),
        ("teams.csv", "external_id,name\n", {"kind": "staff"}, "unknown kind 'staff'"),
        ("teams.xlsx", "", {}, "unknown format '.xlsx'"),
        ("teams.csv", "external_id,name,colour\n", {}, "unknown column 'colour' for teams"),
        ("teams.csv", "name\n", {}, "missing required column 'external_id'"),
    ],
)
def test_files_that_cannot_be_imported_exit_2_with_the_reason(
    offline_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str,
    options: dict[str, Any],
    message: str,
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert run_import(offline_settings, path, **options) == 2
    assert message in capsys.readouterr().err
