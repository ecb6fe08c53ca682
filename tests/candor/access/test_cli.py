"""`candor user ...` and the audited `candor token ...`, run as real processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from candor.auth.passwords import verify_password
from candor.models import AuditEntry, HRUser
from candor.runtime import Runtime
from candor.settings import Settings
from tests.candor.test_cli import CANDOR, candor
from tests.conftest import TEST_SECRET

PASSPHRASE = "first admin passphrase 2026"


def candor_with_input(
    *args: str, stdin: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CANDOR, *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored(env: dict[str, str]) -> tuple[list[HRUser], list[AuditEntry]]:
    async def read() -> tuple[list[HRUser], list[AuditEntry]]:
        settings = Settings(
            env="test", secret_key=TEST_SECRET, database_url=env["CANDOR_DATABASE_URL"]
        )
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session:
                users = list((await session.scalars(select(HRUser).order_by(HRUser.id))).all())
                audit = list(
                    (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
                )
                return users, audit
        finally:
            await runtime.aclose()

    return asyncio.run(read())


def test_the_first_admin_is_created_from_the_shell_and_audited(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "teams.csv").write_text("external_id,name\neng,技术研发部\n", encoding="utf-8")
    assert candor("db", "upgrade", env=embedded_env).returncode == 0
    assert candor("import", str(tmp_path / "teams.csv"), env=embedded_env).returncode == 0
    args = ("user", "create", "--email", "Admin@Example.com", "--name", "管理员")

    weak = candor_with_input(
        *args, "--role", "admin", "--password-stdin", stdin="short\n", env=embedded_env
    )
    no_team = candor_with_input(
        *args, "--team", "sales", "--password-stdin", stdin=f"{PASSPHRASE}\n", env=embedded_env
    )
    created = candor_with_input(
        *args,
        "--role",
        "admin",
        "--team",
        "eng",
        "--password-stdin",
        stdin=f"{PASSPHRASE}\n",
        env=embedded_env,
    )

    assert weak.returncode == no_team.returncode == 2
    assert "at least 12 characters" in weak.stderr
    assert "no such team: sales" in no_team.stderr
    assert created.returncode == 0, created.stderr
    [user], audit = stored(embedded_env)
    assert user.email == "admin@example.com"
    assert user.password_hash is not None
    assert asyncio.run(verify_password(user.password_hash, PASSPHRASE))
    assert [(e.action, e.actor) for e in audit] == [("user.created", "system:cli")]


def test_set_password_for_an_imported_user_and_audited_tokens(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "teams.csv").write_text("external_id,name\neng,技术研发部\n", encoding="utf-8")
    (tmp_path / "users.csv").write_text(
        "email,display_name,role,teams\nwang@example.com,王招聘,recruiter,eng\n", encoding="utf-8"
    )
    candor("db", "upgrade", env=embedded_env)
    for name in ("teams.csv", "users.csv"):
        assert candor("import", str(tmp_path / name), env=embedded_env).returncode == 0

    unknown = candor_with_input(
        "user",
        "set-password",
        "li@example.com",
        "--password-stdin",
        stdin=f"{PASSPHRASE}\n",
        env=embedded_env,
    )
    done = candor_with_input(
        "user",
        "set-password",
        "WANG@example.com",
        "--password-stdin",
        stdin=f"{PASSPHRASE}\n",
        env=embedded_env,
    )
    token = candor("token", "create", "--name", "moka", "--scope", "ats:write", env=embedded_env)
    token_id = token.stdout.split("\t")[0]
    revoked = candor("token", "revoke", token_id, env=embedded_env)

    assert unknown.returncode == 2
    assert "no HR user with e-mail li@example.com" in unknown.stderr
    assert done.returncode == 0, done.stderr
    assert revoked.returncode == 0, revoked.stderr
    [user], audit = stored(embedded_env)
    assert user.password_hash is not None
    assert asyncio.run(verify_password(user.password_hash, PASSPHRASE))
    assert [(e.action, e.object_id) for e in audit] == [
        ("user.password_reset", str(user.id)),
        ("api_token.created", token_id),
        ("api_token.revoked", token_id),
    ]
    assert {e.actor for e in audit} == {"system:cli"}
