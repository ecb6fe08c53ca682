"""Test helpers: import files in CSV or JSONL, a small company's records, database reads."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, inspect, select

from candor.importer.pipeline import ImportReport, import_file
from candor.models import Base
from candor.runtime import Runtime


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(str(item) for item in value)
    return str(value)


def write_csv(
    path: Path,
    records: Iterable[dict[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    records = list(records)
    header = list(columns or dict.fromkeys(key for record in records for key in record))
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for record in records:
            writer.writerow([csv_cell(record.get(column)) for column in header])
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def write_records(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """CSV or JSONL by the file name's extension."""
    if path.suffix == ".csv":
        return write_csv(path, records)
    return write_jsonl(path, records)


def candidate(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": f"C{number}",
        "name": f"候选人{number}",
        "mobile": f"138{number:08d}",
        "email": f"c{number}@example.com",
        "locale": "zh-CN",
        "consent_contact": True,
        "consent_talent_pool": False,
        "consent_wechat_subscription": False,
        "preferred_channels": ["wechat", "email"],
        **fields,
    }


ModelT = TypeVar("ModelT", bound=Base)

TEAMS = [{"external_id": "T1", "name": "招聘一组"}, {"external_id": "T2", "name": "Platform"}]
USERS = [
    {"email": "Wang@Example.com", "display_name": "王招聘", "role": "recruiter", "teams": ["T1"]},
    {
        "email": "lead@example.com",
        "display_name": "Lead",
        "role": "team_lead",
        "teams": ["T1", "T2"],
    },
]
JOBS = [
    {
        "external_id": "J1",
        "title": "后端工程师",
        "team_external_id": "T1",
        "location": "上海",
        "status": "open",
        "recruiter_email": "wang@example.com",
    },
    {"external_id": "J2", "title": "SRE", "team_external_id": "T2", "status": "closed"},
]
CANDIDATES = [
    candidate(1, name="李雷", consent_talent_pool=True),
    candidate(2, name="Han Meimei", locale="en", mobile=None, preferred_channels=[]),
]
APPLICATIONS = [
    {
        "external_id": "A1",
        "candidate_external_id": "C1",
        "job_external_id": "J1",
        # New Year's Day in Shanghai, still 2025 in UTC: the code's year is Shanghai's.
        "applied_at": "2026-01-01T00:30:00+08:00",
    },
    {
        "external_id": "A2",
        "candidate_external_id": "C2",
        "job_external_id": "J2",
        "applied_at": "2025-11-03T09:00:00+08:00",
        "stage": "phone_interview",
        "status": "on_hold",
    },
]
INTERVIEWS = [
    {
        "external_id": "I1",
        "application_external_id": "A2",
        "kind": "phone",
        "round": 2,
        "scheduled_at": "2025-11-10T10:00:00+08:00",
        "completed_at": "2025-11-10T10:45:00+08:00",
        "score": 82.5,
        "summary": "沟通清晰\n基础扎实",
        "strengths": ["沟通", "SQL"],
        "improvements": ["系统设计"],
        "decision": "hold",
        "decided_at": "2025-11-11T18:00:00+08:00",
    },
]


async def count(runtime: Runtime, model: type[Base]) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_rows(runtime: Runtime, model: type[ModelT]) -> list[ModelT]:
    async with runtime.sessionmaker() as session:
        return list(await session.scalars(select(model).order_by(*inspect(model).primary_key)))


async def load(runtime: Runtime, path: Path, **options: Any) -> ImportReport:
    report = await import_file(runtime, path, **options)
    assert report.invalid == [], report.invalid
    assert report.written
    return report


async def load_company(runtime: Runtime, directory: Path, suffix: str) -> None:
    for kind, records in (
        ("teams", TEAMS),
        ("users", USERS),
        ("jobs", JOBS),
        ("candidates", CANDIDATES),
        ("applications", APPLICATIONS),
    ):
        report = await load(runtime, write_records(directory / f"{kind}{suffix}", records))
        assert (report.inserted, report.updated) == (len(records), 0)


def shanghai(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
