"""The `candor` console command, run as a real process the way operators run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CANDOR = [sys.executable, "-c", "from candor.cli import main; main()"]


def candor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CANDOR, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CANDOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "CANDOR_REDIS_URL": "memory://",
        "CANDOR_ENV": "development",
    }


def test_db_upgrade_then_token_create_and_revoke(embedded_env: dict[str, str]) -> None:
    upgraded = candor("db", "upgrade", env=embedded_env)
    created = candor("token", "create", "--name", "moka", "--scope", "ats:write", env=embedded_env)
    token_id, plaintext = created.stdout.strip().split("\t")
    revoked = candor("token", "revoke", token_id, env=embedded_env)
    again = candor("token", "revoke", token_id, env=embedded_env)

    assert upgraded.returncode == 0, upgraded.stderr
    assert created.returncode == 0, created.stderr
    assert plaintext.startswith("cnd_")
    assert len(plaintext) >= 40
    assert revoked.returncode == 0
    assert again.returncode == 1
    assert f"no active token {token_id}" in again.stderr


def test_unknown_scope_is_a_clear_error(embedded_env: dict[str, str]) -> None:
    candor("db", "upgrade", env=embedded_env)
    result = candor("token", "create", "--name", "x", "--scope", "root", env=embedded_env)

    assert result.returncode == 2
    assert "unknown scopes: root" in result.stderr


def test_serve_refuses_several_workers_on_embedded_defaults(embedded_env: dict[str, str]) -> None:
    result = candor("serve", "--workers", "2", env=embedded_env)

    assert result.returncode == 2
    assert "scaled mode" in result.stderr


def test_production_with_the_default_secret_refuses_to_start(embedded_env: dict[str, str]) -> None:
    result = candor("db", "upgrade", env={**embedded_env, "CANDOR_ENV": "production"})

    assert result.returncode == 2
    assert "CANDOR_SECRET_KEY is the development default" in result.stderr
