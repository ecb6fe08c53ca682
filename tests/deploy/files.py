"""What the deployment files refer to, read from the project itself: the `candor` commands,
the settings, and the HTTP routes."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from candor.settings import Settings


def setting_names() -> set[str]:
    return {f"CANDOR_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(names: set[str]) -> set[str]:
    return {name for name in names if name.startswith("CANDOR_")} - setting_names()


def env_file_names(path: Path) -> set[str]:
    """Variables an env file sets or shows commented out (`# CANDOR_X=...`)."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def env_file_values(path: Path) -> dict[str, str]:
    """The variables an env file sets, as systemd's EnvironmentFile= reads simple lines."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@cache
def is_candor_command(arguments: tuple[str, ...]) -> bool:
    """True when `candor ARGUMENTS` names a real command with options it accepts: Click
    parses every argument (refusing unknown ones) before it answers --help."""
    from typer.testing import CliRunner

    from candor.cli import app

    result = CliRunner().invoke(app, [*arguments, "--help"], prog_name="candor")
    return result.exit_code == 0 and "Usage: candor" in result.output


@cache
def http_routes() -> frozenset[str]:
    from api.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", redis_url="memory://"))
    return frozenset(app.openapi()["paths"])
