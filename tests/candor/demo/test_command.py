from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from candor.demo.command import run_demo
from candor.demo.content import HR_USERS
from candor.demo.seed import DEMO_ATS_TOKEN, DEMO_PASSWORD
from candor.settings import Settings

CANDOR = Path(sys.executable).with_name("candor")


def candor_demo(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only what the test sets: a developer's CANDOR_* variables or .env must not leak in.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    clean["CANDOR_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run(
        [str(CANDOR), "demo", *args],
        cwd=database.parent,
        env=clean,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


def test_candor_demo_seed_only_prints_what_to_open_and_is_idempotent(tmp_path: Path) -> None:
    database = tmp_path / "candor.sqlite3"

    first = candor_demo(database, "--seed-only")
    second = candor_demo(database, "--seed-only")

    assert first.returncode == 0, first.stderr
    for url in ("/docs", "/readyz", "/healthz", "/api/v1/ats/events", "/console/login"):
        assert f"http://127.0.0.1:8000{url}" in first.stdout
    for user in HR_USERS:
        assert user.email in first.stdout
    assert DEMO_PASSWORD in first.stdout
    assert "Demo HR logins for the HR console" in first.stdout
    assert f"Authorization: Bearer {DEMO_ATS_TOKEN}" in first.stdout
    assert "Seeded demo company" in first.stdout
    assert re.search(r"hired +hired \d+", first.stdout)  # the funnel is printed

    assert second.returncode == 0, second.stderr
    assert "already in the database" in second.stdout
    assert "Seeded demo company" not in second.stdout
    assert f"Authorization: Bearer {DEMO_ATS_TOKEN}" in second.stdout
    # Fresh single-use web-chat links for the pre-bound demo candidates on every run.
    first_links = set(re.findall(r"http://127\.0\.0\.1:8000/chat\?bind=[\w-]+", first.stdout))
    second_links = set(re.findall(r"http://127\.0\.0\.1:8000/chat\?bind=[\w-]+", second.stdout))
    assert len(first_links) >= 3
    assert len(second_links) == len(first_links)
    assert not first_links & second_links


def test_candor_demo_refuses_production(tmp_path: Path) -> None:
    database = tmp_path / "candor.sqlite3"
    settings = Settings(
        env="production",
        secret_key="a-production-secret-that-is-long-enough-0123456789",
        database_url=f"sqlite+aiosqlite:///{database}",
    )

    with pytest.raises(typer.Exit) as exit_info:
        run_demo(settings, host="127.0.0.1", port=8000, serve=False)

    assert exit_info.value.exit_code == 2
    assert not database.exists()  # refused before migrating anything
