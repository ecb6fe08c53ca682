"""Writing validated import rows: `plan_import` checks references, `apply_import` upserts.

Both run in the caller's transaction and neither commits: the caller sees every row's
problems and then commits once or rolls back, so a failure at row 90,000 leaves the database
as it was.

Rows are written with INSERT ... ON CONFLICT DO UPDATE, a thousand per statement, keyed by
external id (e-mail for HR users). Which rows already exist is read first, in the same
transaction, because the counts, the application codes and the stage history depend on it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import String, Table, any_, bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Insert

from candor.ats.codes import allocate_application_codes
from candor.ats.schemas import StrictModel
from candor.clock import BUSINESS_TZ, utcnow
from candor.crypto.lookups import email_index, mobile_index
from candor.db.base import Base
from candor.importer.reader import InvalidRow, Parsed
from candor.importer.rows import (
    SPECS,
    ApplicationRow,
    CandidateRow,
    InterviewRow,
    JobRow,
    Kind,
    TeamRow,
    UserRow,
)
from candor.models import (
    Application,
    Candidate,
    HRUser,
    Interview,
    Job,
    StageChange,
    Team,
    TeamMembership,
)
from candor.models.enums import ApplicationStatus, Stage

RowT = TypeVar("RowT", bound=StrictModel)

BATCH_SIZE = 1_000
# Keys per lookup query. Each query binds its keys as one array (PostgreSQL) or one JSON text
# (SQLite): an IN list of a thousand parameters costs more to render than to run.
LOOKUP_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class Existing:
    """What the database already holds for a row's key."""

    id: int
    # Applications: the code they keep, the candidate they belong to and where they stand.
    code: str | None = None
    owner_id: int | None = None
    stage: Stage | None = None
    status: ApplicationStatus | None = None


@dataclass(slots=True)
class ImportPlan:
    kind: Kind
    rows: list[Parsed[StrictModel]]
    invalid: list[InvalidRow] = field(default_factory=list)
    existing: dict[str, Existing] = field(default_factory=dict)
    # Reference name (a row field) -> referenced key -> id.
    refs: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportCounts:
    inserted: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class _Reference:
    field: str
    label: str
    key: InstrumentedAttribute[str]
    id: InstrumentedAttribute[int]


# The key and id columns of the kinds whose existing rows need nothing more than their id.
_KEY_AND_ID: dict[Kind, tuple[InstrumentedAttribute[str], InstrumentedAttribute[int]]] = {
    Kind.TEAMS: (Team.external_id, Team.id),
    Kind.USERS: (HRUser.email, HRUser.id),
    Kind.JOBS: (Job.external_id, Job.id),
    Kind.CANDIDATES: (Candidate.external_id, Candidate.id),
}

_REFERENCES: dict[Kind, tuple[_Reference, ...]] = {
    Kind.USERS: (_Reference("teams", "team", Team.external_id, Team.id),),
    Kind.JOBS: (
        _Reference("team_external_id", "team", Team.external_id, Team.id),
        _Reference("recruiter_email", "HR user", HRUser.email, HRUser.id),
    ),
    Kind.APPLICATIONS: (
        _Reference("candidate_external_id", "candidate", Candidate.external_id, Candidate.id),
        _Reference("job_external_id", "job", Job.external_id, Job.id),
    ),
    Kind.INTERVIEWS: (
        _Reference(
            "application_external_id", "application", Application.external_id, Application.id
        ),
    ),
}


async def plan_import(
    session: AsyncSession, kind: Kind, rows: Sequence[Parsed[StrictModel]]
) -> ImportPlan:
    """Resolve every row's references and find the rows that already exist.

    A row whose reference is missing, or that would move an existing application or
    interview to another owner, goes to `plan.invalid` instead of `plan.rows`.
    """
    spec = SPECS[kind]
    plan = ImportPlan(kind=kind, rows=[])
    for reference in _REFERENCES.get(kind, ()):
        wanted = {key for parsed in rows for key in _referenced(parsed.row, reference)}
        plan.refs[reference.field] = await _ids(session, reference.key, reference.id, wanted)
    plan.existing = await _existing(session, kind, [spec.key_of(parsed.row) for parsed in rows])

    for parsed in rows:
        problems = []
        for reference in _REFERENCES.get(kind, ()):
            found = plan.refs[reference.field]
            unknown = [key for key in _referenced(parsed.row, reference) if key not in found]
            if unknown:
                problems.append(
                    f"{reference.field}: unknown {reference.label} {', '.join(map(repr, unknown))}"
                )
        if not problems:
            problems.extend(_ownership_problems(plan, parsed.row))
        if problems:
            plan.invalid.append(InvalidRow(parsed.line, "; ".join(problems)))
        else:
            plan.rows.append(parsed)
    return plan


async def apply_import(session: AsyncSession, plan: ImportPlan, *, source: str) -> ImportCounts:
    """Upsert `plan.rows` in batches; `source` labels the stage history, e.g. `import:a.csv`."""
    now = utcnow()
    inserted = updated = 0
    for start in range(0, len(plan.rows), BATCH_SIZE):
        batch = plan.rows[start : start + BATCH_SIZE]
        new = sum(1 for parsed in batch if SPECS[plan.kind].key_of(parsed.row) not in plan.existing)
        match plan.kind:
            case Kind.TEAMS:
                await _write_teams(session, _narrow(batch, TeamRow), now)
            case Kind.USERS:
                await _write_users(session, plan, _narrow(batch, UserRow), now)
            case Kind.JOBS:
                await _write_jobs(session, plan, _narrow(batch, JobRow), now)
            case Kind.CANDIDATES:
                await _write_candidates(session, _narrow(batch, CandidateRow), now)
            case Kind.APPLICATIONS:
                await _write_applications(
                    session, plan, _narrow(batch, ApplicationRow), now, source[:128]
                )
            case Kind.INTERVIEWS:
                await _write_interviews(session, plan, _narrow(batch, InterviewRow), now)
        inserted += new
        updated += len(batch) - new
    return ImportCounts(inserted=inserted, updated=updated)


def _referenced(row: StrictModel, reference: _Reference) -> list[str]:
    value = getattr(row, reference.field)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _ownership_problems(plan: ImportPlan, row: StrictModel) -> list[str]:
    """An import may update an application or interview but not re-parent it: its code and
    history belong to the candidate (or application) it was created for."""
    if isinstance(row, ApplicationRow):
        existing = plan.existing.get(row.external_id)
        candidate_id = plan.refs["candidate_external_id"][row.candidate_external_id]
        if existing is not None and existing.owner_id != candidate_id:
            return [
                f"candidate_external_id: application {row.external_id!r} belongs to another "
                "candidate"
            ]
    if isinstance(row, InterviewRow):
        existing = plan.existing.get(row.external_id)
        application_id = plan.refs["application_external_id"][row.application_external_id]
        if existing is not None and existing.owner_id != application_id:
            return [
                f"application_external_id: interview {row.external_id!r} belongs to another "
                "application"
            ]
    return []


def _one_of(
    session: AsyncSession, column: InstrumentedAttribute[str], keys: list[str]
) -> ColumnElement[bool]:
    """`column IN keys` with the keys bound as a single parameter."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, keys, type_=ARRAY(String)))
    values = func.json_each(bindparam(None, json.dumps(keys), type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        yield ordered[start : start + LOOKUP_CHUNK]


async def _ids(
    session: AsyncSession,
    key: InstrumentedAttribute[str],
    id_: InstrumentedAttribute[int],
    keys: Iterable[str],
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        result = await session.execute(select(key, id_).where(_one_of(session, key, chunk)))
        found.update(dict(result.all()))
    return found


async def _existing(session: AsyncSession, kind: Kind, keys: Iterable[str]) -> dict[str, Existing]:
    found: dict[str, Existing] = {}
    for chunk in _chunks(keys):
        if kind is Kind.APPLICATIONS:
            applications = await session.execute(
                select(
                    Application.external_id,
                    Application.id,
                    Application.code,
                    Application.candidate_id,
                    Application.stage,
                    Application.status,
                ).where(_one_of(session, Application.external_id, chunk))
            )
            for external_id, id_, code, candidate_id, stage, status in applications:
                found[external_id] = Existing(id_, code, candidate_id, stage, status)
        elif kind is Kind.INTERVIEWS:
            interviews = await session.execute(
                select(Interview.external_id, Interview.id, Interview.application_id).where(
                    _one_of(session, Interview.external_id, chunk)
                )
            )
            for external_id, id_, application_id in interviews:
                found[external_id] = Existing(id_, owner_id=application_id)
        else:
            ids = await _ids(session, *_KEY_AND_ID[kind], chunk)
            found.update({key: Existing(id_) for key, id_ in ids.items()})
    return found


def _narrow(batch: Sequence[Parsed[StrictModel]], model: type[RowT]) -> list[Parsed[RowT]]:
    assert all(isinstance(parsed.row, model) for parsed in batch)
    return cast("list[Parsed[RowT]]", list(batch))


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _upsert(
    session: AsyncSession,
    model: type[Base],
    key: str,
    columns: Iterable[str],
    *,
    insert_only: Iterable[str] = (),
) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE of every column but the key and `insert_only`.

    The set clause names `updated_at` explicitly: column `onupdate` defaults don't fire for
    the UPDATE half of an upsert.
    """
    table = _table(model)
    keep = {key, "created_at", *insert_only}
    updated = [column for column in columns if column not in keep]
    if session.get_bind().dialect.name == "postgresql":
        pg = pg_insert(table)
        return pg.on_conflict_do_update(
            index_elements=[key], set_={column: pg.excluded[column] for column in updated}
        )
    lite = sqlite_insert(table)
    return lite.on_conflict_do_update(
        index_elements=[key], set_={column: lite.excluded[column] for column in updated}
    )


async def _execute_upsert(
    session: AsyncSession,
    model: type[Base],
    key: str,
    params: list[dict[str, Any]],
    *,
    insert_only: Iterable[str] = (),
) -> dict[str, int]:
    """Run the upsert for `params` and return key -> id of every row it touched."""
    table = _table(model)
    statement = _upsert(session, model, key, params[0], insert_only=insert_only).returning(
        table.c[key], table.c.id
    )
    result = await session.execute(statement, params)
    return dict(result.all())


async def _insert_all(
    session: AsyncSession, model: type[Base], params: list[dict[str, Any]]
) -> None:
    # RETURNING, although the ids aren't needed, is what makes SQLAlchemy send a batch as one
    # multi-row INSERT ("insertmanyvalues"); without it asyncpg gets a thousand one-row
    # statements, which PostgreSQL runs at half the speed. The upserts above get it too.
    table = _table(model)
    await session.execute(insert(table).returning(table.c.id), params)


async def _write_teams(session: AsyncSession, batch: list[Parsed[TeamRow]], now: datetime) -> None:
    params = [
        {
            "external_id": parsed.row.external_id,
            "name": parsed.row.name,
            "created_at": now,
            "updated_at": now,
        }
        for parsed in batch
    ]
    await _execute_upsert(session, Team, "external_id", params)


async def _write_users(
    session: AsyncSession, plan: ImportPlan, batch: list[Parsed[UserRow]], now: datetime
) -> None:
    params = [
        {
            "email": parsed.row.email,
            "display_name": parsed.row.display_name,
            "role": parsed.row.role,
            # Imported users sign in after an admin sets their password or invites them.
            "password_hash": None,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        for parsed in batch
    ]
    ids = await _execute_upsert(
        session, HRUser, "email", params, insert_only=("password_hash", "is_active")
    )
    replaced = [parsed.row for parsed in batch if "teams" in parsed.row.model_fields_set]
    if not replaced:
        return
    team_ids = plan.refs["teams"]
    await session.execute(
        delete(TeamMembership).where(TeamMembership.user_id.in_([ids[u.email] for u in replaced]))
    )
    memberships = [
        {"team_id": team_ids[team], "user_id": ids[user.email]}
        for user in replaced
        for team in user.teams
    ]
    if memberships:
        await _insert_all(session, TeamMembership, memberships)


async def _write_jobs(
    session: AsyncSession, plan: ImportPlan, batch: list[Parsed[JobRow]], now: datetime
) -> None:
    team_ids, recruiter_ids = plan.refs["team_external_id"], plan.refs["recruiter_email"]
    params = [
        {
            "external_id": row.external_id,
            "team_id": team_ids[row.team_external_id],
            "title": row.title,
            "location": row.location,
            "status": row.status,
            "recruiter_id": (recruiter_ids[row.recruiter_email] if row.recruiter_email else None),
            "created_at": now,
            "updated_at": now,
        }
        for row in (parsed.row for parsed in batch)
    ]
    await _execute_upsert(session, Job, "external_id", params)


async def _write_candidates(
    session: AsyncSession, batch: list[Parsed[CandidateRow]], now: datetime
) -> None:
    params = [
        {
            "external_id": row.external_id,
            "name": row.name,
            "mobile": row.mobile,
            "email": row.email.lower() if row.email else None,
            # Named here, not left to the column default: the upsert's UPDATE half sets
            # only the columns given.
            "mobile_index": mobile_index(row.mobile),
            "email_index": email_index(row.email),
            "locale": row.locale,
            "consent_contact": row.consent_contact,
            "consent_talent_pool": row.consent_talent_pool,
            "consent_wechat_subscription": row.consent_wechat_subscription,
            "preferred_channels": [channel.value for channel in row.preferred_channels],
            "created_at": now,
            "updated_at": now,
        }
        for row in (parsed.row for parsed in batch)
    ]
    await _execute_upsert(session, Candidate, "external_id", params)


async def _write_applications(
    session: AsyncSession,
    plan: ImportPlan,
    batch: list[Parsed[ApplicationRow]],
    now: datetime,
    source: str,
) -> None:
    candidate_ids, job_ids = plan.refs["candidate_external_id"], plan.refs["job_external_id"]
    codes: dict[str, str] = {}
    new_by_year: dict[int, list[str]] = defaultdict(list)
    for parsed in batch:
        if parsed.row.external_id not in plan.existing:
            year = parsed.row.applied_at.astimezone(BUSINESS_TZ).year
            new_by_year[year].append(parsed.row.external_id)
    for year, keys in sorted(new_by_year.items()):
        allocated = await allocate_application_codes(session, year, len(keys))
        codes.update(zip(keys, allocated, strict=True))

    params = [
        {
            "external_id": row.external_id,
            # An existing application keeps its code: candidates quote it in chat.
            "code": codes.get(row.external_id) or plan.existing[row.external_id].code,
            "candidate_id": candidate_ids[row.candidate_external_id],
            "job_id": job_ids[row.job_external_id],
            "applied_at": row.applied_at,
            "stage": row.stage,
            "status": row.status,
            "created_at": now,
            "updated_at": now,
        }
        for row in (parsed.row for parsed in batch)
    ]
    ids = await _execute_upsert(session, Application, "external_id", params, insert_only=("code",))

    # The funnel is computed from stage changes, so every import that moves an application,
    # including its creation, leaves one.
    changes = []
    for row in (parsed.row for parsed in batch):
        before = plan.existing.get(row.external_id)
        if before is None:
            changes.append(_stage_change(ids[row.external_id], None, None, row, row.applied_at))
        elif (before.stage, before.status) != (row.stage, row.status):
            changes.append(_stage_change(before.id, before.stage, before.status, row, now))
    for change in changes:
        change["source"] = source
    if changes:
        await _insert_all(session, StageChange, changes)


def _stage_change(
    application_id: int,
    from_stage: Stage | None,
    from_status: ApplicationStatus | None,
    row: ApplicationRow,
    at: datetime,
) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "from_stage": from_stage,
        "to_stage": row.stage,
        "from_status": from_status,
        "to_status": row.status,
        "changed_at": at,
    }


async def _write_interviews(
    session: AsyncSession, plan: ImportPlan, batch: list[Parsed[InterviewRow]], now: datetime
) -> None:
    application_ids = plan.refs["application_external_id"]
    params = [
        {
            "external_id": row.external_id,
            "application_id": application_ids[row.application_external_id],
            "kind": row.kind,
            "round": row.round,
            "scheduled_at": row.scheduled_at,
            "completed_at": row.completed_at,
            "score": row.score,
            "report_summary": row.summary,
            "strengths": list(row.strengths),
            "improvements": list(row.improvements),
            "decision": row.decision,
            "decided_at": row.decided_at,
            "created_at": now,
            "updated_at": now,
        }
        for row in (parsed.row for parsed in batch)
    ]
    await _execute_upsert(session, Interview, "external_id", params)
