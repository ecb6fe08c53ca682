from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from candor.importer import service
from candor.importer.pipeline import import_file
from candor.importer.reader import ImportFileError, InvalidRow
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
from candor.models.enums import ApplicationStatus, Decision, InterviewKind, JobStatus, Role, Stage
from candor.runtime import Runtime
from tests.candor.importer.helpers import (
    APPLICATIONS,
    CANDIDATES,
    INTERVIEWS,
    JOBS,
    USERS,
    all_rows,
    candidate,
    count,
    load,
    load_company,
    shanghai,
    write_csv,
    write_jsonl,
    write_records,
)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
async def test_a_valid_file_of_each_kind_is_written(
    runtime: Runtime, tmp_path: Path, suffix: str
) -> None:
    await load_company(runtime, tmp_path, suffix)
    report = await load(runtime, write_records(tmp_path / f"interviews{suffix}", INTERVIEWS))

    assert (report.rows_read, report.inserted, report.updated) == (1, 1, 0)
    teams = await all_rows(runtime, Team)
    assert [(team.external_id, team.name) for team in teams] == [
        ("T1", "招聘一组"),
        ("T2", "Platform"),
    ]
    users = await all_rows(runtime, HRUser)
    assert [(user.email, user.role, user.password_hash) for user in users] == [
        ("wang@example.com", Role.RECRUITER, None),
        ("lead@example.com", Role.TEAM_LEAD, None),
    ]
    memberships = await all_rows(runtime, TeamMembership)
    assert sorted((m.user_id, m.team_id) for m in memberships) == [
        (users[0].id, teams[0].id),
        (users[1].id, teams[0].id),
        (users[1].id, teams[1].id),
    ]
    jobs = await all_rows(runtime, Job)
    assert [(j.external_id, j.team_id, j.location, j.status, j.recruiter_id) for j in jobs] == [
        ("J1", teams[0].id, "上海", JobStatus.OPEN, users[0].id),
        ("J2", teams[1].id, None, JobStatus.CLOSED, None),
    ]
    lilei, han = await all_rows(runtime, Candidate)
    assert (lilei.name, lilei.mobile, lilei.email) == ("李雷", "13800000001", "c1@example.com")
    assert (lilei.consent_contact, lilei.consent_talent_pool) == (True, True)
    assert lilei.preferred_channels == ["wechat", "email"]
    assert (han.locale, han.mobile, han.preferred_channels) == ("en", None, [])
    a1, a2 = await all_rows(runtime, Application)
    assert (a1.code, a1.candidate_id, a1.job_id) == ("AP-2026-000001", lilei.id, jobs[0].id)
    assert (a1.stage, a1.status) == (Stage.APPLIED, ApplicationStatus.ACTIVE)
    assert a1.applied_at == shanghai("2026-01-01T00:30:00+08:00")
    assert (a2.code, a2.stage, a2.status) == (
        "AP-2025-000001",
        Stage.PHONE_INTERVIEW,
        ApplicationStatus.ON_HOLD,
    )
    changes = await all_rows(runtime, StageChange)
    assert [
        (c.application_id, c.from_stage, c.to_stage, c.from_status, c.to_status, c.source)
        for c in changes
    ] == [
        (
            a1.id,
            None,
            Stage.APPLIED,
            None,
            ApplicationStatus.ACTIVE,
            f"import:applications{suffix}",
        ),
        (
            a2.id,
            None,
            Stage.PHONE_INTERVIEW,
            None,
            ApplicationStatus.ON_HOLD,
            f"import:applications{suffix}",
        ),
    ]
    assert changes[0].changed_at == a1.applied_at
    (interview,) = await all_rows(runtime, Interview)
    assert (interview.application_id, interview.kind, interview.round) == (
        a2.id,
        InterviewKind.PHONE,
        2,
    )
    assert interview.completed_at == shanghai("2025-11-10T10:45:00+08:00")
    assert (interview.score, interview.report_summary) == (82.5, "沟通清晰\n基础扎实")
    assert (interview.strengths, interview.improvements) == (["沟通", "SQL"], ["系统设计"])
    assert (interview.decision, interview.decided_at) == (
        Decision.HOLD,
        shanghai("2025-11-11T18:00:00+08:00"),
    )


async def test_reimport_updates_rows_in_place_and_applications_keep_their_codes(
    runtime: Runtime, tmp_path: Path
) -> None:
    await load_company(runtime, tmp_path, ".csv")
    before = {a.external_id: a for a in await all_rows(runtime, Application)}

    moved = [
        {**APPLICATIONS[0], "stage": "offer", "job_external_id": "J2"},
        APPLICATIONS[1],
        {**APPLICATIONS[0], "external_id": "A3", "applied_at": "2026-02-01T09:00:00+08:00"},
    ]
    report = await load(runtime, write_csv(tmp_path / "applications.csv", moved))
    renamed = await load(
        runtime, write_csv(tmp_path / "candidates.csv", [candidate(1, name="李磊"), CANDIDATES[1]])
    )

    assert (report.inserted, report.updated) == (1, 2)
    assert (renamed.inserted, renamed.updated) == (0, 2)
    after = {a.external_id: a for a in await all_rows(runtime, Application)}
    assert {key: a.code for key, a in after.items()} == {
        "A1": before["A1"].code,
        "A2": before["A2"].code,
        "A3": "AP-2026-000002",
    }
    assert after["A1"].id == before["A1"].id
    assert after["A1"].stage is Stage.OFFER
    assert after["A1"].job_id != before["A1"].job_id
    assert after["A1"].created_at == before["A1"].created_at
    assert after["A1"].updated_at > before["A1"].updated_at
    assert [c.name for c in await all_rows(runtime, Candidate)] == ["李磊", "Han Meimei"]
    # Creation of A1, A2 and A3, plus A1's move to offer; unchanged A2 leaves no new row.
    changes = await all_rows(runtime, StageChange)
    assert [(c.application_id, c.from_stage, c.to_stage) for c in changes] == [
        (after["A1"].id, None, Stage.APPLIED),
        (after["A2"].id, None, Stage.PHONE_INTERVIEW),
        (after["A1"].id, Stage.APPLIED, Stage.OFFER),
        (after["A3"].id, None, Stage.APPLIED),
    ]
    assert await count(runtime, Application) == 3


async def test_unknown_references_are_invalid_rows(runtime: Runtime, tmp_path: Path) -> None:
    await load_company(runtime, tmp_path, ".csv")
    jobs = [
        {**JOBS[0], "external_id": "J3", "team_external_id": "T9"},
        {**JOBS[0], "external_id": "J4", "recruiter_email": "nobody@example.com"},
        {**JOBS[0], "external_id": "J5"},
    ]
    applications = [
        {**APPLICATIONS[0], "external_id": "A7", "candidate_external_id": "C404"},
        {**APPLICATIONS[0], "external_id": "A8", "job_external_id": "J404"},
    ]
    interviews = [{**INTERVIEWS[0], "application_external_id": "A404"}]

    job_report = await import_file(runtime, write_csv(tmp_path / "jobs.csv", jobs))
    application_report = await import_file(
        runtime, write_jsonl(tmp_path / "applications.jsonl", applications)
    )
    interview_report = await import_file(
        runtime, write_csv(tmp_path / "interviews.csv", interviews)
    )

    assert job_report.invalid == [
        InvalidRow(2, "team_external_id: unknown team 'T9'"),
        InvalidRow(3, "recruiter_email: unknown HR user 'nobody@example.com'"),
    ]
    assert application_report.invalid == [
        InvalidRow(1, "candidate_external_id: unknown candidate 'C404'"),
        InvalidRow(2, "job_external_id: unknown job 'J404'"),
    ]
    assert interview_report.invalid == [
        InvalidRow(2, "application_external_id: unknown application 'A404'")
    ]
    assert not any(r.written for r in (job_report, application_report, interview_report))
    assert await count(runtime, Job) == 2
    assert await count(runtime, Application) == 2
    assert await count(runtime, Interview) == 0


async def test_user_memberships_are_replaced_only_when_teams_are_given(
    runtime: Runtime, tmp_path: Path
) -> None:
    await load_company(runtime, tmp_path, ".csv")
    lead = {key: value for key, value in USERS[1].items() if key != "teams"}

    await load(runtime, write_jsonl(tmp_path / "users.jsonl", [lead]))
    kept = len(await all_rows(runtime, TeamMembership))
    await load(runtime, write_csv(tmp_path / "users.csv", [{**USERS[0], "teams": ["T2"]}]))
    memberships = await all_rows(runtime, TeamMembership)

    assert kept == 3
    users = {user.email: user.id for user in await all_rows(runtime, HRUser)}
    teams = {team.external_id: team.id for team in await all_rows(runtime, Team)}
    assert sorted((m.user_id, m.team_id) for m in memberships) == sorted(
        [
            (users["wang@example.com"], teams["T2"]),
            (users["lead@example.com"], teams["T1"]),
            (users["lead@example.com"], teams["T2"]),
        ]
    )


async def test_a_failure_while_writing_leaves_nothing_behind(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "candidates.csv", [candidate(n) for n in range(2_500)])
    write_candidates = service._write_candidates
    calls = 0

    async def crash_on_the_third_batch(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionResetError("database went away")
        await write_candidates(*args)

    monkeypatch.setattr(service, "_write_candidates", crash_on_the_third_batch)

    with pytest.raises(ConnectionResetError):
        await import_file(runtime, path)

    assert calls == 3
    assert await count(runtime, Candidate) == 0


async def test_an_application_cannot_move_to_another_candidate(
    runtime: Runtime, tmp_path: Path
) -> None:
    await load_company(runtime, tmp_path, ".csv")
    moved = [{**APPLICATIONS[0], "candidate_external_id": "C2"}, APPLICATIONS[1]]

    report = await import_file(
        runtime, write_csv(tmp_path / "applications.csv", moved), skip_invalid=True
    )

    assert report.invalid == [
        InvalidRow(2, "candidate_external_id: application 'A1' belongs to another candidate")
    ]
    assert (report.written, report.inserted, report.updated) == (True, 0, 1)
    a1 = (await all_rows(runtime, Application))[0]
    assert a1.candidate_id == (await all_rows(runtime, Candidate))[0].id


async def test_skip_invalid_writes_the_rows_whose_references_resolve(
    runtime: Runtime, tmp_path: Path
) -> None:
    await load_company(runtime, tmp_path, ".jsonl")
    interviews = [
        {**INTERVIEWS[0], "external_id": "I1"},
        {**INTERVIEWS[0], "external_id": "I2", "application_external_id": "A404"},
        {**INTERVIEWS[0], "external_id": "I3", "application_external_id": "A1"},
    ]

    report = await import_file(
        runtime, write_jsonl(tmp_path / "interviews.jsonl", interviews), skip_invalid=True
    )

    assert report.invalid == [InvalidRow(2, "application_external_id: unknown application 'A404'")]
    assert [i.external_id for i in await all_rows(runtime, Interview)] == ["I1", "I3"]


async def test_an_undecodable_line_after_written_batches_leaves_nothing_behind(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "candidates.csv", [candidate(n) for n in range(3_000)])
    with path.open("ab") as stream:
        stream.write("C9999,张伟,,,,,,,\n".encode("gbk"))

    with pytest.raises(ImportFileError, match="line 3002: not valid utf-8-sig"):
        await import_file(runtime, path)

    assert await count(runtime, Candidate) == 0
