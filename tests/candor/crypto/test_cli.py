"""The `candor` command with and without keys, as a process."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

CANDOR = str(Path(sys.executable).parent / "candor")
PRODUCTION = {
    "CANDOR_ENV": "production",
    "CANDOR_SECRET_KEY": "a-production-secret-that-is-long-enough-0123456789",
}


def candor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    return subprocess.run(
        [CANDOR, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [("db", "upgrade"), ("crypto", "status")])
def test_production_without_keys_refuses_to_start(
    embedded_env: dict[str, str], command: tuple[str, ...]
) -> None:
    result = candor(*command, env={**embedded_env, **PRODUCTION})

    assert result.returncode == 2
    assert "invalid settings" in result.stderr
    assert "CANDOR_ENCRYPTION_KEYS and CANDOR_BLIND_INDEX_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_a_malformed_key_refuses_to_start(embedded_env: dict[str, str]) -> None:
    keys = {
        "CANDOR_ENCRYPTION_KEYS": "k1:" + base64.b64encode(b"short").decode(),
        "CANDOR_BLIND_INDEX_KEY": base64.b64encode(b"b" * 32).decode(),
    }
    result = candor("db", "upgrade", env={**embedded_env, **PRODUCTION, **keys})

    assert result.returncode == 2
    assert "encryption key 'k1' must be 32 bytes" in result.stderr


def test_production_with_keys_upgrades_then_reports_the_sealed_columns(
    embedded_env: dict[str, str],
) -> None:
    generated = candor("crypto", "generate-key", env=embedded_env)
    blind = candor("crypto", "generate-key", env=embedded_env)
    assert len(base64.b64decode(generated.stdout.strip())) == 32
    assert generated.stdout != blind.stdout
    keys = {
        "CANDOR_ENCRYPTION_KEYS": f"k2026:{generated.stdout.strip()}",
        "CANDOR_BLIND_INDEX_KEY": blind.stdout.strip(),
    }
    env = {**embedded_env, **PRODUCTION, **keys}

    upgraded = candor("db", "upgrade", env=env)
    reported = candor("crypto", "status", env=env)
    sealed = candor("crypto", "reencrypt", env=env)

    assert upgraded.returncode == 0, upgraded.stderr
    assert reported.returncode == 0, reported.stderr
    assert "active key: k2026" in reported.stdout
    assert "candidates.mobile: 0 stored" in reported.stdout
    assert sealed.returncode == 0, sealed.stderr
    assert "0 left" in sealed.stdout


def test_production_refuses_encryption_off_outside_an_upgrade_window(
    embedded_env: dict[str, str],
) -> None:
    keys = {
        "CANDOR_ENCRYPTION_KEYS": "k1:" + base64.b64encode(b"k" * 32).decode(),
        "CANDOR_BLIND_INDEX_KEY": base64.b64encode(b"b" * 32).decode(),
        "CANDOR_ENCRYPTION_AT_REST": "false",
    }
    env = {**embedded_env, **PRODUCTION, **keys}

    refused = candor("db", "upgrade", env=env)
    window = {**env, "CANDOR_ENCRYPTION_UPGRADE_WINDOW": "true"}
    upgraded = candor("db", "upgrade", env=window)
    worker = candor("worker", "--once", env=window)

    assert refused.returncode == 2
    assert "CANDOR_ENCRYPTION_AT_REST=false is refused with CANDOR_ENV=production" in (
        refused.stderr
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert worker.returncode == 0, worker.stderr
    assert "warning: CANDOR_ENCRYPTION_AT_REST is off" in worker.stderr
