"""Rolling upgrades: the previous release's code must still read a database migrated to this
release's schema (expand, then contract; docs/operations.md#upgrades).

During a rolling restart the old API processes and workers keep running beside the new ones
after `candor db upgrade` has moved the schema to the new head. So the previous release's
read paths run here, from its own source (`git archive`), against a PostgreSQL database
migrated to head and seeded by the current code: the candidate's progress lookup the dialogue
answers "where is my application?" from, the HR approval inbox, the KPI report, /readyz.

The previous release is the commit before the newest migration landed on the main line (the
repository has no release tags). Move PREVIOUS_RELEASE forward whenever a migration is added:
it is the parent, on the main line, of the commit that merged the newest revision.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.db.migrate import upgrade
from candor.devtools.scratch_database import postgres_database
from candor.models.enums import Channel
from candor.runtime import Runtime
from candor.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, TEST_SECRET, cannot_run_here
from tests.outreach_world import World

# 0020_privacy_rights and the migrations after it were merged onto main after b9fe680, the
# release before them (its migrations end at 0019).
PREVIOUS_RELEASE = "b9fe6803ba2437eda99c19565885991e3993f8ec"
PREVIOUS_HEAD = "0019"
# The revisions that landed since PREVIOUS_RELEASE, oldest first. A release may add several;
# adding one more to this list is the reminder to ask whether the release moved.
SINCE_PREVIOUS_RELEASE = ("0020", "0021", "0022", "0023", "0024")
REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.scaled

# Runs inside the previous release's tree (PYTHONPATH), with this checkout's virtualenv.
OLD_READER = """
import asyncio, json, os, sys

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import select

import candor
from api.app import create_app
from candor.dialogue.queries import own_applications, progress
from candor.models import Candidate
from candor.runtime import open_runtime
from candor.settings import Settings


async def main() -> None:
    settings = Settings()
    out = {"code": candor.__file__}
    async with open_runtime(settings) as runtime, runtime.sessionmaker() as session:
        who = select(Candidate).where(Candidate.external_id == "cand-1")
        candidate = await session.scalar(who)
        out["progress"] = [
            [a.code, (await progress(session, a, settings)).last_event]
            for a in await own_applications(session, candidate.id)
        ]
    app = create_app(settings)
    hr = {"Authorization": "Bearer " + os.environ["HR_TOKEN"]}
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    async with LifespanManager(app), client as http:
        ready = await http.get("/readyz")
        out["readyz"] = [ready.status_code, ready.json()]
        inbox = await http.get("/api/v1/outreach/messages", headers=hr)
        out["inbox"] = [inbox.status_code, inbox.json()]
        kpis = await http.get("/api/v1/kpis?from=2026-03-01&to=2026-03-31", headers=hr)
        out["kpis"] = [kpis.status_code, kpis.json()]
    print(json.dumps(out, default=str))


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's source tree, from git history."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode:
        cannot_run_here(
            f"commit {PREVIOUS_RELEASE[:12]} (the previous release) is not in this clone; "
            "a shallow clone lacks it: run `git fetch --unshallow`"
        )
    tree = tmp_path_factory.mktemp("previous-release")
    archive = tree / "release.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", f"--output={archive}", PREVIOUS_RELEASE],
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    migrations = sorted(p.name for p in (tree / "candor/migrations/versions").glob("0*.py"))
    assert migrations[-1].startswith(PREVIOUS_HEAD), "PREVIOUS_RELEASE names another release"
    return tree


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of this test's own, migrated to this release's head (a test may alter it)."""
    with postgres_database("candor_upgrade", POSTGRES_ADMIN_URL) as url:
        upgrade(Settings(database_url=url, env="test", secret_key=TEST_SECRET))
        yield url


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """Overrides the suite's runtime: `world` seeds this test's database with current code."""
    runtime = Runtime.create(
        Settings(env="test", secret_key=TEST_SECRET, database_url=database_url, redis_url=REDIS_URL)
    )
    await runtime.redis.flushdb()
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def seed(world: World) -> None:
    """Candidate 1's result waits for approval; candidate 2's was auto-approved and queued;
    so every read path has rows to read."""
    await world.applicant(1, bind=[Channel.WECHAT])
    await world.decide(1, "reject")  # reject results wait for HR approval by default
    await world.applicant(2, bind=[Channel.WECHAT])
    await world.decide(2, "advance")


def run_old_reader(
    tree: Path, database_url: str, hr_token: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": TEST_SECRET,
        "CANDOR_DATABASE_URL": database_url,
        "CANDOR_REDIS_URL": REDIS_URL,
        "CANDOR_LOG_LEVEL": "WARNING",
        "HR_TOKEN": hr_token,
    }
    return subprocess.run(
        [sys.executable, "-c", OLD_READER],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_the_previous_release_reads_the_new_schema(
    previous_release: Path, database_url: str, world: World
) -> None:
    await seed(world)

    result = await asyncio.to_thread(
        run_old_reader, previous_release, database_url, world.recruiter_token
    )

    assert result.returncode == 0, result.stderr[-4000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["code"].startswith(str(previous_release)), out["code"]  # not this checkout
    # The rejection awaits approval, so the candidate is promised a date, not told.
    assert [event for _, event in out["progress"]] == ["interview_completed"]
    assert out["readyz"][0] == 200, out["readyz"]
    status, inbox = out["inbox"]
    assert status == 200, inbox
    assert sorted((m["application_code"], m["state"]) for m in inbox) == [
        ("AP-2026-000001", "pending_approval"),
        ("AP-2026-000002", "queued"),
    ], inbox
    status, kpis = out["kpis"]
    assert status == 200, kpis
    assert kpis["figures"]["interviews_completed"] == 2, kpis["figures"]
    assert kpis["figures"]["funnel"]["applied"] == 2, kpis["figures"]


async def test_a_contract_step_shipped_too_early_breaks_the_previous_release(
    previous_release: Path, database_url: str, world: World
) -> None:
    await seed(world)
    # A migration that renames what the previous release reads, in the same release that
    # stops reading it: exactly what expand/contract forbids.
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("ALTER TABLE outreach_messages RENAME COLUMN decided_at TO released_at")
            )
    finally:
        await engine.dispose()

    result = await asyncio.to_thread(
        run_old_reader, previous_release, database_url, world.recruiter_token
    )

    assert result.returncode != 0, result.stdout
    assert "decided_at" in result.stderr, result.stderr[-4000:]


def test_the_pinned_previous_release_is_the_one_before_the_newest_migration() -> None:
    """Adding a migration must move PREVIOUS_RELEASE: otherwise this file would keep checking
    an older release against the schema and pass without checking the one that matters."""
    from alembic.script import ScriptDirectory

    from candor.db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(Settings(_env_file=None)))
    head_revision = scripts.get_current_head()
    assert head_revision is not None
    since = [
        revision.revision
        for revision in scripts.iterate_revisions(head_revision, PREVIOUS_HEAD)
        if revision.revision != PREVIOUS_HEAD
    ]
    assert tuple(reversed(since)) == SINCE_PREVIOUS_RELEASE, (
        f"migrations {since} came after {PREVIOUS_HEAD}: if a release landed in between, move "
        "PREVIOUS_RELEASE to the main-line commit before the newest migrations and "
        "PREVIOUS_HEAD to the last revision it has; list the rest in SINCE_PREVIOUS_RELEASE"
    )
    shipped = subprocess.run(
        ["git", "ls-tree", "--name-only", PREVIOUS_RELEASE, "candor/migrations/versions/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    newest_shipped = max(
        Path(name).name.split("_", 1)[0] for name in shipped if name.endswith(".py")
    )
    assert newest_shipped == PREVIOUS_HEAD
