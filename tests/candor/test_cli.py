"""The `candor` console command, run as a real process the way operators run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from candor.settings import Settings
from tests.fakes import free_port, stop_process

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


def test_an_hr_users_personal_token_needs_the_user(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "teams.csv").write_text("external_id,name\neng,技术研发部\n", encoding="utf-8")
    (tmp_path / "users.csv").write_text(
        "email,display_name,role,teams\nwang@example.com,王招聘,recruiter,eng\n", encoding="utf-8"
    )
    candor("db", "upgrade", env=embedded_env)
    for name in ("teams.csv", "users.csv"):
        assert candor("import", str(tmp_path / name), env=embedded_env).returncode == 0

    personal = candor(
        "token",
        "create",
        "--name",
        "wang",
        "--scope",
        "hr",
        "--user",
        "wang@example.com",
        env=embedded_env,
    )
    no_user = candor("token", "create", "--name", "x", "--scope", "hr", env=embedded_env)
    stranger = candor(
        "token",
        "create",
        "--name",
        "x",
        "--scope",
        "hr",
        "--user",
        "nobody@example.com",
        env=embedded_env,
    )

    assert personal.returncode == 0, personal.stderr
    assert personal.stdout.strip().split("\t")[1].startswith("cnd_")
    assert no_user.returncode == 2
    assert "give exactly one HR user" in no_user.stderr
    assert stranger.returncode == 2
    assert "no HR user with e-mail nobody@example.com" in stranger.stderr


def test_an_unmigrated_database_says_to_run_db_upgrade(embedded_env: dict[str, str]) -> None:
    result = candor("token", "create", "--name", "x", "--scope", "ats:write", env=embedded_env)

    assert result.returncode == 2
    assert "run `candor db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


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


def test_serve_answers_readyz_with_one_process_or_several(settings: Settings) -> None:
    """Embedded: one process. Scaled: two API processes sharing PostgreSQL and Redis."""
    workers = "1" if settings.is_embedded else "2"
    port = free_port()
    env = {
        **os.environ,
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": settings.secret_key.get_secret_value(),
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": settings.redis_url,
    }
    server = subprocess.Popen(
        [*CANDOR, "serve", "--port", str(port), "--workers", workers],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Generous: two processes importing the app on a busy 2-core machine.
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        if ready is None:
            # Stop the server first: reading a live process's stderr would block for ever.
            server.kill()
            _, stderr = server.communicate()
            raise AssertionError(f"no answer on /readyz within 120 s: {stderr}")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"]["backend"] == (
            "sqlite" if settings.uses_sqlite else "postgresql"
        )
    finally:
        stop_process(server)
