"""Fixtures for the deployment files' tests: the external tools that check them.

promtool and caddy come from Debian's prometheus and caddy packages (`python3 dev.py test`
installs them) and systemd-analyze from systemd. Without them these tests skip, except under
CI=true, where a missing tool fails the test instead: CI must not pass on checks it never ran.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cannot_run_here

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def require_tool(name: str, how_to_install: str) -> str:
    path = shutil.which(name)
    if path is None:
        cannot_run_here(f"{name} is not installed ({how_to_install})")
    return path


def promtool_run(
    promtool: str, *args: str | Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", "`python3 dev.py test` installs Debian's prometheus package")


@pytest.fixture(scope="session")
def systemd_analyze() -> str:
    return require_tool("systemd-analyze", "Debian's systemd package")


@pytest.fixture(scope="session")
def caddy() -> str:
    return require_tool("caddy", "`python3 dev.py test` installs Debian's caddy package")
