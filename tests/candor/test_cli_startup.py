"""What starting the `candor` command imports: the command tree only, not the application.

Every command, `--help` included, pays for what `candor.cli` imports at start-up, so the
command tree is built from the standard library and typer alone; the settings, SQLAlchemy,
Redis, FastAPI and the channels are imported by the commands that use them. These tests
check which modules a fresh process has loaded (a behaviour, not a timing: the timings are
bench/cli_startup.py's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from candor.dialogue import cli as dialogue_cli
from candor.dialogue import knowledge

ROOT = Path(__file__).resolve().parents[2]

# Top-level packages no `--help` may import: the database, Redis, the web stack, the
# channels' SDKs, the dialogue engines, templates, the settings' machinery, logging, rich.
HEAVY = frozenset(
    {
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "alembic",
        "fakeredis",
        "redis",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "wechatpy",
        "telegram",
        "rasa_sdk",
        "prometheus_client",
        "jinja2",
        "pydantic_settings",
        "structlog",
        "yaml",
        "argon2",
        "jieba",
        "holidays",
        "chinese_calendar",
        "rich",
    }
)
# Our own modules that would drag the above in.
HEAVY_OWN = ("candor.settings", "candor.models", "candor.runtime", "candor.logging", "api")

EVERY_COMMAND = [
    "",
    "bind-link",
    "calendar",
    "calendar load",
    "calendar show",
    "crypto",
    "crypto generate-key",
    "crypto reencrypt",
    "crypto status",
    "db",
    "db upgrade",
    "demo",
    "dialogue",
    "dialogue load-answers",
    "i18n",
    "i18n check",
    "i18n update",
    "import",
    "kpis",
    "kpis check",
    "kpis rebuild",
    "nlu",
    "nlu evaluate",
    "nlu export-reviewed",
    "nlu parse",
    "nlu train",
    "privacy",
    "privacy erase",
    "privacy purge",
    "rasa",
    "rasa serve",
    "rasa setup",
    "rasa test",
    "rasa train",
    "serve",
    "sla",
    "sla due",
    "telegram",
    "telegram poll",
    "telegram set-webhook",
    "token",
    "token create",
    "token revoke",
    "unbind",
    "user",
    "user create",
    "user set-password",
    "worker",
]

# Runs `candor ARGS...` the way the console script does, then reports what was imported.
RUN_ONE = """
import json, sys
sys.argv = ["candor", *sys.argv[1:]]
try:
    from candor.cli import main
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# Walks the command tree and asks every command for its help, in one process.
RUN_EVERY_HELP = """
import json, sys
import typer.main
from typer.testing import CliRunner
from candor.cli import app

def walk(command, path):
    yield path
    for name in sorted(getattr(command, "commands", None) or {}):
        yield from walk(command.commands[name], [*path, name])

runner = CliRunner()
helps = {}
for path in walk(typer.main.get_command(app), []):
    result = runner.invoke(app, [*path, "--help"], prog_name="candor")
    helps[" ".join(path)] = {"code": result.exit_code, "output": result.output}
print(json.dumps({"helps": helps, "modules": sorted(sys.modules)}))
"""


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def heavy_modules(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if name.split(".")[0] in HEAVY
        or any(name == own or name.startswith(f"{own}.") for own in HEAVY_OWN)
    ]


def candor_modules(*args: str) -> tuple[int, str, list[str]]:
    done = run_python(RUN_ONE, *args)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], done.stdout, report["modules"]


def test_candor_help_imports_the_command_tree_only() -> None:
    code, output, modules = candor_modules("--help")

    assert code == 0
    assert "bind-link" in output
    assert "sla" in output
    assert heavy_modules(modules) == []
    # typer validates a command's arguments with pydantic; listing the commands needs none.
    assert "pydantic" not in modules


def test_bind_link_and_sla_due_start_without_the_application() -> None:
    for command in (["bind-link", "--help"], ["sla", "due", "--help"], ["sla", "--help"]):
        code, output, modules = candor_modules(*command)

        assert code == 0, command
        assert f"Usage: candor {' '.join(command[:-1])}" in output
        assert heavy_modules(modules) == [], command


def test_every_command_still_lists_and_answers_help_without_the_application() -> None:
    done = run_python(RUN_EVERY_HELP)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert sorted(report["helps"]) == EVERY_COMMAND
    for path, help_ in report["helps"].items():
        assert help_["code"] == 0, (path, help_["output"])
        assert f"Usage: candor {path}".rstrip() in help_["output"], path
    assert "Create a single-use binding link" in report["helps"]["bind-link"]["output"]
    assert "--days" in report["helps"]["sla due"]["output"]
    assert heavy_modules(report["modules"]) == []


def test_a_command_that_needs_the_application_imports_it() -> None:
    # The guard above would pass vacuously if the check could not see an import.
    code, _output, modules = candor_modules("sla", "due", "2025-09-30T10:00:00+08:00", "--offline")

    assert code == 0
    assert "candor.settings" in modules
    assert "chinese_calendar" in modules


def test_the_load_answers_default_is_the_knowledge_bases_file() -> None:
    # The command names the default without importing the knowledge base; both must agree.
    assert dialogue_cli.DEFAULT_ANSWERS_PATH == knowledge.DEFAULT_ANSWERS_PATH
    assert knowledge.DEFAULT_ANSWERS_PATH.is_file()
