"""`candor crypto reencrypt`: the upgrade from plaintext, key rotation, resuming after a
crash, and rotating while the application writes and reads."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from candor.chat import transcript
from candor.chat.consent import stop_sms
from candor.crypto.fields import key_id_of
from candor.crypto.reencrypt import reencrypt, remaining, status
from candor.db.migrate import upgrade, upgrade_async
from candor.devtools.scratch_database import postgres_database
from candor.models import (
    Candidate,
    ChatIdentity,
    DataExport,
    DeletionRequest,
    EncryptionCheckpoint,
    Interview,
)
from candor.models.enums import Channel
from candor.models.privacy import DeletionState
from candor.outreach.sms_callbacks import mobile_forms
from candor.runtime import Runtime
from candor.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, TEST_SECRET

KEY_1 = base64.b64encode(os.urandom(32)).decode()
KEY_2 = base64.b64encode(os.urandom(32)).decode()
BLIND = base64.b64encode(os.urandom(32)).decode()
CANDOR = str(Path(sys.executable).parent / "candor")
NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def keyed(base: Settings, keys: str, active: str) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=base.database_url,
        redis_url=base.redis_url,
        encryption_keys=keys,
        encryption_active_key=active,
        blind_index_key=BLIND,
    )


def env_of(settings: Settings) -> dict[str, str]:
    assert settings.encryption_keys is not None
    return {
        **os.environ,
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": TEST_SECRET,
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": settings.redis_url,
        "CANDOR_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        "CANDOR_ENCRYPTION_ACTIVE_KEY": settings.encryption_active_key or "",
        "CANDOR_BLIND_INDEX_KEY": BLIND,
    }


async def raw(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    async with runtime.engine.connect() as connection:
        return [tuple(row) for row in (await connection.execute(text(sql))).all()]


async def add_candidates(runtime: Runtime, count: int, start: int = 0) -> None:
    async with runtime.transaction() as session:
        for n in range(start, start + count):
            session.add(
                Candidate(
                    external_id=f"cand-{n}",
                    name=f"候选人{n}",
                    mobile=f"1380000{n:04d}",
                    email=f"c{n}@example.com",
                )
            )
            session.add(ChatIdentity(channel=Channel.WECHAT, external_user_id=f"o-openid-{n}"))


async def add_export_and_erasure(runtime: Runtime) -> None:
    """A copy waiting for its download and an erasure's working set: both sealed JSON."""
    async with runtime.transaction() as session:
        candidate = await session.scalar(select(Candidate).where(Candidate.external_id == "cand-0"))
        assert candidate is not None
        session.add(
            DataExport(
                token_hash="0" * 64,
                candidate_id=candidate.id,
                requested_by="candidate",
                via="web",
                created_at=NOW,
                expires_at=NOW,
                content={"profile": {"email": "c0@example.com"}},
            )
        )
        session.add(
            DeletionRequest(
                candidate_id=candidate.id,
                state=DeletionState.ERASING,
                requested_by="user:1",
                via="console",
                subject={"needles": ["c0@example.com", "13800000000"]},
            )
        )


async def json_key_ids(runtime: Runtime) -> set[str | None]:
    rows = await raw(
        runtime,
        "SELECT CAST(content AS TEXT) FROM data_exports "
        "UNION ALL SELECT CAST(subject AS TEXT) FROM deletion_requests",
    )
    return {key_id_of(json.loads(value)) for (value,) in rows}


async def key_ids(runtime: Runtime) -> set[str | None]:
    rows = await raw(
        runtime,
        "SELECT mobile FROM candidates UNION ALL SELECT email FROM candidates "
        "UNION ALL SELECT external_user_id FROM chat_identities",
    )
    return {key_id_of(value) for (value,) in rows if value is not None}


# --- the upgrade: rows written before migration 0022 -------------------------------------


@pytest.fixture(params=["embedded", pytest.param("scaled", marks=pytest.mark.scaled)])
def before_0022(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A database at the schema before encryption (0021)."""
    if request.param == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        settings = Settings(env="test", secret_key=TEST_SECRET, database_url=url)
        upgrade(settings, "0021")
        yield settings
        return
    with postgres_database("candor_enc_upgrade", POSTGRES_ADMIN_URL) as url:
        settings = Settings(
            env="test", secret_key=TEST_SECRET, database_url=url, redis_url=REDIS_URL
        )
        upgrade(settings, "0021")
        yield settings


PRE_0022_ROWS = [
    "INSERT INTO teams (id, external_id, name, created_at, updated_at) "
    "VALUES (1, 'team-a', 'T', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO jobs (id, external_id, team_id, title, status, created_at, updated_at) "
    "VALUES (1, 'job-1', 1, 'Engineer', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO candidates (id, external_id, name, mobile, email, locale, consent_contact, "
    "consent_talent_pool, consent_wechat_subscription, preferred_channels, created_at, "
    "updated_at) VALUES (1, 'cand-1', '韩梅梅', '+86 139-0000-1234', 'han@example.com', "
    "'zh-CN', :yes, :no, :no, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO applications (id, code, external_id, candidate_id, job_id, stage, status, "
    "applied_at, result_version, created_at, updated_at) VALUES (1, 'AP-2026-000001', "
    "'app-1', 1, 1, 'applied', 'active', CURRENT_TIMESTAMP, 0, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP)",
    "INSERT INTO interviews (id, external_id, application_id, kind, round, report_summary, "
    "strengths, improvements, next_steps, created_at, updated_at) VALUES (1, 'iv-1', 1, "
    "'ai_video', 1, '表现稳健', '[\"沟通清晰\", \"逻辑严谨\"]', '[]', '周三现场面试', "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO chat_identities (id, channel, external_user_id, candidate_id, bound_at, "
    "created_at, updated_at) VALUES (1, 'wechat', 'oLegacyOpenId123', 1, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
]


async def test_rows_from_before_the_upgrade_are_found_then_sealed(before_0022: Settings) -> None:
    runtime = Runtime.create(before_0022)
    try:
        async with runtime.engine.begin() as connection:
            for statement in PRE_0022_ROWS:
                await connection.execute(text(statement), {"yes": True, "no": False})
        await runtime.engine.dispose()
        await upgrade_async(before_0022)  # `candor db upgrade`: no row is rewritten

        # Between the upgrade and the pass: plaintext is read and found as it is.
        async with runtime.transaction() as session:
            thread = await transcript.open_thread(session, Channel.WECHAT, "oLegacyOpenId123")
            by_email = await session.scalar(
                select(Candidate.id).where(Candidate.email == "han@example.com")
            )
            interview = await session.scalar(select(Interview))
            assert interview is not None
            assert (interview.strengths, interview.next_steps) == (
                ["沟通清晰", "逻辑严谨"],
                "周三现场面试",
            )
        assert thread is not None
        assert thread.identity.candidate_id == by_email == 1
        assert await raw(runtime, "SELECT mobile FROM candidates") == [("+86 139-0000-1234",)]

        report = await reencrypt(runtime, batch_size=1)

        assert (report.left, report.rows_sealed) == (0, 3)  # the candidate, identity, interview
        everything = " ".join(
            str(value)
            for row in await raw(
                runtime,
                "SELECT mobile, email, NULL FROM candidates UNION ALL SELECT external_user_id, "
                "NULL, NULL FROM chat_identities UNION ALL SELECT report_summary, next_steps, "
                "CAST(strengths AS TEXT) FROM interviews",
            )
            for value in row
        )
        for plaintext in ("0000-1234", "han@", "oLegacy", "表现", "沟通", "周三"):
            assert plaintext not in everything
        async with runtime.transaction() as session:
            thread = await transcript.open_thread(session, Channel.WECHAT, "oLegacyOpenId123")
            by_email = await session.scalar(
                select(Candidate.id).where(Candidate.email == "HAN@example.com")
            )
            interview = await session.scalar(select(Interview))
            assert interview is not None
            assert interview.strengths == ["沟通清晰", "逻辑严谨"]
            assert interview.report_summary == "表现稳健"
            opted_out = await stop_sms(
                session, mobile_forms("86", "13900001234"), provider="aliyun", now=NOW
            )
        assert thread is not None
        assert thread.identity.candidate_id == by_email == 1
        assert opted_out == [1]
    finally:
        await runtime.aclose()


# --- rotation --------------------------------------------------------------------------


async def test_rotation_moves_every_row_to_the_new_key(settings: Settings) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 30)
        await add_export_and_erasure(old)
    finally:
        await old.aclose()
    assert await _key_ids_with(keyed(settings, f"k1:{KEY_1}", "k1")) == {"k1"}

    rotating = Runtime.create(keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2"))
    try:
        report = await reencrypt(rotating, batch_size=7)
        assert (report.rows_sealed, report.left) == (62, 0)
        assert await key_ids(rotating) == {"k2"}
        assert await json_key_ids(rotating) == {"k2"}
        async with rotating.sessionmaker() as session:
            statuses = await status(session, rotating.settings.keyring)
            assert {"data_exports.content", "deletion_requests.subject"} <= {
                row.column for row in statuses
            }
            assert [row.on_other_keys for row in statuses] == [0] * len(statuses)
            assert await session.scalar(select(EncryptionCheckpoint)) is None
        again = await reencrypt(rotating, batch_size=7)
        assert again.rows_sealed == 0  # nothing left to do
    finally:
        await rotating.aclose()

    # The old key can now leave the keyring: every row still reads and is still found.
    retired = Runtime.create(keyed(settings, f"k2:{KEY_2}", "k2"))
    try:
        async with retired.sessionmaker() as session:
            emails = set((await session.scalars(select(Candidate.email))).all())
            found = await session.scalar(
                select(Candidate.external_id).where(Candidate.mobile == "+86 138 0000 0007")
            )
            identity = await session.scalar(
                select(ChatIdentity.id).where(ChatIdentity.external_user_id == "o-openid-29")
            )
        assert emails == {f"c{n}@example.com" for n in range(30)}
        assert found == "cand-7"
        assert identity is not None
        async with retired.sessionmaker() as session:
            export = await session.scalar(select(DataExport))
            request = await session.scalar(select(DeletionRequest))
        assert export is not None
        assert export.content == {"profile": {"email": "c0@example.com"}}
        assert request is not None
        assert request.subject == {"needles": ["c0@example.com", "13800000000"]}
    finally:
        await retired.aclose()


async def _reset(runtime: Runtime) -> None:
    from tests.conftest import _reset_scaled_state

    if not runtime.settings.uses_sqlite:
        await _reset_scaled_state(runtime)


async def _key_ids_with(settings: Settings) -> set[str | None]:
    runtime = Runtime.create(settings)
    try:
        return await key_ids(runtime)
    finally:
        await runtime.aclose()


async def test_a_rotation_killed_mid_way_resumes_where_it_stopped(settings: Settings) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 300)
    finally:
        await old.aclose()
    new = keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2")
    command = [CANDOR, "crypto", "reencrypt", "--batch-size", "10", "--pause-seconds", "0.05"]

    process = await asyncio.create_subprocess_exec(
        *command, env=env_of(new), stdout=asyncio.subprocess.DEVNULL
    )
    runtime = Runtime.create(new)
    try:
        checkpoint = await _wait_for_checkpoint(runtime, beyond=50)
        process.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        await asyncio.wait_for(process.wait(), 30)

        async with runtime.sessionmaker() as session:
            stopped = await session.scalar(select(EncryptionCheckpoint))
        assert stopped is not None
        assert stopped.table_name == "candidates"
        assert stopped.last_id >= checkpoint
        rows = await raw(runtime, "SELECT id, mobile, email FROM candidates ORDER BY id")
        for row_id, mobile, email in rows:  # every row whole: both values on one key
            assert key_id_of(mobile) == key_id_of(email)
            if row_id <= stopped.last_id:
                assert key_id_of(mobile) == "k2"
        assert {key_id_of(mobile) for _, mobile, _ in rows} == {"k1", "k2"}

        again = await asyncio.create_subprocess_exec(
            *command[:3], env=env_of(new), stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(again.communicate(), 300)
        assert again.returncode == 0, err.decode()
        assert f"candidates: resuming after id {stopped.last_id}" in out.decode()
        assert await key_ids(runtime) == {"k2"}
        async with runtime.sessionmaker() as session:
            mobiles = set((await session.scalars(select(Candidate.mobile))).all())
            assert await session.scalar(select(EncryptionCheckpoint)) is None
        assert mobiles == {f"1380000{n:04d}" for n in range(300)}
    finally:
        if process.returncode is None:
            process.kill()
        await runtime.aclose()


async def _wait_for_checkpoint(runtime: Runtime, *, beyond: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with runtime.sessionmaker() as session:
            found = await session.scalar(select(EncryptionCheckpoint.last_id))
        if found is not None and found > beyond:
            return int(found)
        await asyncio.sleep(0.02)
    raise AssertionError("the pass made no progress")


@pytest.mark.scaled
async def test_rotation_under_concurrent_writers_and_readers(postgres_url: str) -> None:
    """PostgreSQL only: SQLite's single writer runs one transaction at a time."""
    settings = Settings(
        env="test", secret_key=TEST_SECRET, database_url=postgres_url, redis_url=REDIS_URL
    )
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 400)
    finally:
        await old.aclose()

    runtime = Runtime.create(keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2"))
    expected = {n: f"1380000{n:04d}" for n in range(400)}
    rotating = True
    problems: list[str] = []

    async def writer(seed: int) -> int:
        rng, writes = random.Random(seed), 0
        while rotating:
            n = rng.randrange(400)
            async with runtime.transaction() as session:
                candidate = await session.scalar(
                    select(Candidate).where(Candidate.external_id == f"cand-{n}").with_for_update()
                )
                assert candidate is not None
                candidate.mobile = f"1370000{rng.randrange(10_000):04d}"
                expected[n] = candidate.mobile
            async with runtime.transaction() as session:  # new rows keep arriving too
                m = 1000 + seed * 10_000 + writes
                session.add(
                    Candidate(external_id=f"cand-{m}", name="新", email=f"n{m}@example.com")
                )
                expected[m] = None  # type: ignore[assignment]
            writes += 1
            await asyncio.sleep(0)
        return writes

    async def reader(seed: int) -> int:
        rng, reads = random.Random(seed), 0
        while rotating:
            n = rng.randrange(400)
            async with runtime.sessionmaker() as session:
                found = await session.scalar(
                    select(Candidate.external_id).where(Candidate.email == f"c{n}@example.com")
                )
                identity = await transcript.conversation_id_of(
                    session, Channel.WECHAT, f"o-openid-{n}"
                )
                every = (await session.scalars(select(Candidate.email).limit(50))).all()
            if found != f"cand-{n}":
                problems.append(f"c{n}@example.com found {found}")
            del identity, every
            reads += 1
        return reads

    try:
        workers = [asyncio.create_task(writer(s)) for s in (1, 2)] + [
            asyncio.create_task(reader(s)) for s in (3, 4)
        ]
        report = await reencrypt(runtime, batch_size=25, pause_seconds=0.01)
        rotating = False
        counts = await asyncio.gather(*workers)

        assert problems == []
        assert report.left == 0
        assert min(counts) > 5, counts  # the workload really ran beside the pass
        assert await key_ids(runtime) == {"k2"}
        async with runtime.sessionmaker() as session:
            assert sum((await remaining(session, runtime.settings.keyring)).values()) == 0
            stored = dict(
                (await session.execute(select(Candidate.external_id, Candidate.mobile))).all()
            )
        # No write of the application was lost to the pass's re-sealing of a stale read.
        for n, mobile in expected.items():
            assert stored[f"cand-{n}"] == mobile, n
    finally:
        rotating = False
        await runtime.aclose()


# --- values that never get a blind index; unreadable rows ------------------------------


async def test_erased_and_indexless_values_let_the_pass_finish(settings: Settings) -> None:
    """An erased value ("") and a "phone" without digits have no blind index: they are not
    work left over, so the pass ends (exit 0), and a second run reads nothing."""
    runtime = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(runtime)
    try:
        await add_candidates(runtime, 3)
        async with runtime.transaction() as session:
            erased = await session.scalar(
                select(Candidate).where(Candidate.external_id == "cand-0")
            )
            odd = await session.scalar(select(Candidate).where(Candidate.external_id == "cand-1"))
            assert erased is not None
            assert odd is not None
            erased.email, erased.mobile = "", ""
            odd.mobile = "n/a"

        assert await raw(runtime, "SELECT email FROM candidates WHERE external_id = 'cand-0'") == [
            ("",)
        ]
        report = await reencrypt(runtime, batch_size=2)
        again = await reencrypt(runtime, batch_size=2)

        assert (report.left, report.passes, report.unreadable) == (0, 1, set())
        assert (again.rows_read, again.left) == (0, 0)
        async with runtime.sessionmaker() as session:
            mobiles = {row.column: row for row in await status(session, runtime.settings.keyring)}
        assert mobiles["candidates.mobile"].missing_index == 0
        assert mobiles["candidates.email"].empty == 1
    finally:
        await runtime.aclose()


async def test_an_unreadable_row_is_reported_and_passed_over(settings: Settings) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 6)
        async with old.engine.begin() as connection:
            # cand-2's e-mail altered; cand-4's e-mail a plaintext that starts like ciphertext.
            await connection.execute(
                text(
                    "UPDATE candidates SET email = substr(email, 1, length(email) - 2) || "
                    "CASE WHEN substr(email, -2, 1) = 'A' THEN 'BB' ELSE 'AA' END "
                    "WHERE external_id = 'cand-2'"
                )
            )
            await connection.execute(
                text(
                    "UPDATE candidates SET email = 'enc:v1:see my CV' WHERE external_id = 'cand-4'"
                )
            )
    finally:
        await old.aclose()
    rotated = keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2")

    result = await asyncio.to_thread(
        subprocess_run, [CANDOR, "crypto", "reencrypt", "--batch-size", "2"], env_of(rotated)
    )

    assert result.returncode == 1
    bad = await _id_of(rotated, "cand-2")
    assert f"unreadable, left as it is: candidates id {bad} candidates.email" in result.stderr
    assert "ciphertext_rejected" in result.stderr
    assert "enc:v1:see my CV" not in result.stdout + result.stderr
    runtime = Runtime.create(rotated)
    try:
        rows = dict(await raw(runtime, "SELECT external_id, mobile FROM candidates"))
        assert {key_id_of(value) for name, value in rows.items() if name != "cand-2"} == {"k2"}
        assert key_id_of(rows["cand-2"]) == "k1"  # the whole row left as it was
        async with runtime.sessionmaker() as session:
            legacy = await session.scalar(
                select(Candidate.email).where(Candidate.external_id == "cand-4")
            )
        assert legacy == "enc:v1:see my CV"  # sealed now, and read back as it was written
        stored = await raw(runtime, "SELECT email FROM candidates WHERE external_id = 'cand-4'")
        assert key_id_of(stored[0][0]) == "k2"
    finally:
        await runtime.aclose()


async def _id_of(settings: Settings, external_id: str) -> int:
    runtime = Runtime.create(settings)
    try:
        async with runtime.sessionmaker() as session:
            found = await session.scalar(
                select(Candidate.id).where(Candidate.external_id == external_id)
            )
        assert found is not None
        return found
    finally:
        await runtime.aclose()


def subprocess_run(command: list[str], env: dict[str, str]) -> Any:
    import subprocess

    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


async def test_a_second_pass_started_meanwhile_refuses_to_run(settings: Settings) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 200)
    finally:
        await old.aclose()
    new = keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2")
    first = await asyncio.create_subprocess_exec(
        CANDOR,
        "crypto",
        "reencrypt",
        "--batch-size",
        "5",
        "--pause-seconds",
        "0.05",
        env=env_of(new),
        stdout=PIPE,
        stderr=PIPE,
    )
    runtime = Runtime.create(new)
    try:
        await _wait_for_checkpoint(runtime, beyond=10)
        second = await asyncio.to_thread(
            subprocess_run, [CANDOR, "crypto", "reencrypt"], env_of(new)
        )
        assert second.returncode == 1
        assert "reencrypt_running" in second.stderr
        assert "Traceback" not in second.stderr
        _, err = await asyncio.wait_for(first.communicate(), 300)
        assert first.returncode == 0, err.decode()
        assert await key_ids(runtime) == {"k2"}
    finally:
        if first.returncode is None:
            first.kill()
        await runtime.aclose()


# --- key ids: a keyring missing a key in use refuses to start --------------------------


@pytest.mark.parametrize(
    "command", [("worker", "--once"), ("serve", "--port", "0"), ("crypto", "reencrypt")]
)
async def test_a_keyring_without_a_key_in_use_refuses_to_start(
    settings: Settings, command: tuple[str, ...]
) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 2)
        assert (await reencrypt(old)).left == 0  # records k1 as in use
    finally:
        await old.aclose()
    without_k1 = env_of(keyed(settings, f"k2:{KEY_2}", "k2"))
    development = {
        k: v for k, v in without_k1.items() if "ENCRYPTION" not in k and "BLIND" not in k
    }

    for env in (without_k1, development):
        result = await asyncio.to_thread(subprocess_run, [CANDOR, *command], env)

        assert result.returncode == 2, result.stderr
        assert "encryption_key_missing" in result.stderr
        assert "k1" in result.stderr
        assert "Traceback" not in result.stderr


async def test_a_key_may_leave_the_keyring_once_reencrypt_moved_every_row_off_it(
    settings: Settings,
) -> None:
    old = Runtime.create(keyed(settings, f"k1:{KEY_1}", "k1"))
    await _reset(old)
    try:
        await add_candidates(old, 3)
        await reencrypt(old)
    finally:
        await old.aclose()
    both = env_of(keyed(settings, f"k1:{KEY_1},k2:{KEY_2}", "k2"))

    rotated = await asyncio.to_thread(subprocess_run, [CANDOR, "crypto", "reencrypt"], both)
    worker = await asyncio.to_thread(
        subprocess_run, [CANDOR, "worker", "--once"], env_of(keyed(settings, f"k2:{KEY_2}", "k2"))
    )

    assert rotated.returncode == 0, rotated.stderr
    assert "no row uses key(s) k1 any more" in rotated.stdout
    assert worker.returncode == 0, worker.stderr


# --- the migration on a live PostgreSQL ------------------------------------------------


@pytest.mark.scaled
def test_the_upgrade_gives_way_to_a_long_transaction_then_completes_on_a_rerun() -> None:
    """0022 never queues an exclusive lock behind a long transaction (which would block
    every reader of candidates behind it): it stops after its lock timeout, and a rerun
    finishes, its indexes built CONCURRENTLY and valid."""
    with postgres_database("candor_enc_locks", POSTGRES_ADMIN_URL) as url:
        settings = Settings(
            env="test", secret_key=TEST_SECRET, database_url=url, redis_url=REDIS_URL
        )
        upgrade(settings, "0021")
        env = {
            **os.environ,
            "CANDOR_ENV": "test",
            "CANDOR_SECRET_KEY": TEST_SECRET,
            "CANDOR_DATABASE_URL": url,
            "CANDOR_REDIS_URL": REDIS_URL,
        }
        command = [CANDOR, "db", "upgrade", "0022"]

        async def scenario() -> tuple[Any, float, Any, list[Any], set[str]]:
            holder = Runtime.create(settings)
            try:
                async with holder.engine.connect() as connection:
                    await connection.execute(text("SELECT count(*) FROM candidates"))
                    started = time.monotonic()
                    blocked = await asyncio.to_thread(subprocess_run, command, env)
                    waited = time.monotonic() - started
                    await connection.rollback()
                rerun = await asyncio.to_thread(subprocess_run, command, env)
                invalid = await raw(
                    holder,
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE NOT i.indisvalid",
                )
                indexes = {
                    name
                    for (name,) in await raw(
                        holder, "SELECT indexname FROM pg_indexes WHERE tablename = 'candidates'"
                    )
                }
                return blocked, waited, rerun, invalid, indexes
            finally:
                await holder.aclose()

        blocked, waited, rerun, invalid, indexes = asyncio.run(scenario())

    assert blocked.returncode != 0
    assert "lock timeout" in blocked.stderr
    assert waited < 30
    assert rerun.returncode == 0, rerun.stderr
    assert invalid == []
    assert {"ix_candidates_mobile_index", "ix_candidates_email_index"} <= indexes
    assert not {"ix_candidates_mobile", "ix_candidates_email"} & indexes
