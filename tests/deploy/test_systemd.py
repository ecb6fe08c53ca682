"""deploy/systemd: the units are valid for systemd, and what they run works.

This machine has no systemd as PID 1, so the units cannot be started by systemd. Instead
`systemd-analyze verify` checks them offline, and the scaled tests run each unit the way
systemd would: its ExecStart with %i expanded, in its WorkingDirectory, with only the
variables of an EnvironmentFile (pointing at the test PostgreSQL and Redis) and its
Environment= lines; then they wait until it is ready and stop it with its KillSignal, which
must end it cleanly within its TimeoutStopSec. The one rewrite: the install prefix
/opt/candor becomes this checkout (and /run/candor a temporary directory).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.devtools.scratch_database import postgres_database
from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, TEST_SECRET
from tests.deploy.conftest import DEPLOY, REPO
from tests.deploy.files import env_file_names, is_candor_command, unknown_settings
from tests.fakes import free_port

SYSTEMD = DEPLOY / "systemd"
PREFIX = "/opt/candor"
RUNTIME_DIR = "/run/candor"
ENVIRONMENT_FILE = "/etc/candor/candor.env"


@dataclass
class Unit:
    path: Path
    sections: dict[str, dict[str, list[str]]]

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        values = self.sections.get(section, {}).get(key)
        return values[-1] if values else default

    def all(self, section: str, key: str) -> list[str]:
        return [v for value in self.sections.get(section, {}).get(key, []) for v in value.split()]


def load(name: str, instance: str | None = None) -> Unit:
    """A unit file as systemd reads it, with %i (and %%) expanded for template instances."""
    path = SYSTEMD / name
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        specifiers = set(re.findall(r"%(.)", value))
        assert specifiers <= {"i", "%"}, f"{name}: specifiers this test cannot expand"
        if instance is not None:
            value = value.replace("%i", instance)
        current.setdefault(key.strip(), []).append(value.replace("%%", "%").strip())
    return Unit(path, sections)


SERVICES = ["candor-migrate.service", "candor-api@.service", "candor-worker@.service"]


def local(value: str, runtime_dir: Path) -> str:
    return value.replace(PREFIX, str(REPO)).replace(RUNTIME_DIR, str(runtime_dir))


def test_systemd_analyze_verifies_the_units(systemd_analyze: str, tmp_path: Path) -> None:
    for unit in [*SERVICES, "candor.target"]:
        source = (SYSTEMD / unit).read_text(encoding="utf-8")
        # verify checks that ExecStart exists: point the prefix at this checkout's venv.
        (tmp_path / unit).write_text(source.replace(PREFIX, str(REPO)), encoding="utf-8")
    names = ["candor-migrate.service", "candor-api@8001.service", "candor-worker@1.service"]
    verified = subprocess.run(
        [systemd_analyze, "verify", *(str(tmp_path / n) for n in [*names, "candor.target"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # verify only warns (exit 0) about many mistakes, e.g. an unknown value: none is allowed.
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_systemd_analyze_reports_a_broken_unit(systemd_analyze: str, tmp_path: Path) -> None:
    source = (SYSTEMD / "candor-worker@.service").read_text(encoding="utf-8")
    broken = tmp_path / "candor-worker@.service"
    broken.write_text(
        source.replace(PREFIX, str(REPO)).replace("ProtectSystem=strict", "ProtectSystem=stric")
    )
    verified = subprocess.run(
        [systemd_analyze, "verify", str(tmp_path / "candor-worker@1.service")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Failed to parse protect system value" in verified.stdout + verified.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_hardened_and_reads_the_environment_file(name: str) -> None:
    unit = load(name, instance="8001")
    service = unit.sections["Service"]
    assert unit.get("Service", "User") == "candor"
    assert unit.get("Service", "EnvironmentFile") == ENVIRONMENT_FILE
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert unit.get("Service", key) == value, f"{name}: {key}"
    assert unit.get("Service", "WorkingDirectory") == PREFIX
    [command] = service["ExecStart"]
    executable, *arguments = shlex.split(command)
    assert executable == f"{PREFIX}/.venv/bin/candor"
    assert is_candor_command(tuple(arguments)), command


@pytest.mark.parametrize("name", ["candor-api@.service", "candor-worker@.service"])
def test_api_and_workers_restart_share_the_metrics_directory_and_wait_for_migrations(
    name: str,
) -> None:
    unit = load(name, instance="1")
    migrate = load("candor-migrate.service")
    assert unit.get("Service", "Restart") == "on-failure"
    assert "candor-migrate.service" in unit.all("Unit", "Requires")
    assert "candor-migrate.service" in unit.all("Unit", "After")
    assert unit.get("Unit", "PartOf") == "candor.target"
    metrics = f"{RUNTIME_DIR}/metrics"
    assert f"CANDOR_METRICS_DIR={metrics}" in unit.sections["Service"]["Environment"]
    assert metrics in unit.all("Service", "ReadWritePaths")
    # The directory lives exactly as long as the migrations unit stays active.
    assert migrate.get("Service", "RuntimeDirectory") == metrics.removeprefix("/run/")
    assert migrate.get("Service", "RemainAfterExit") == "yes"
    assert migrate.get("Service", "Type") == "oneshot"


def test_the_target_starts_migrations_apis_and_workers() -> None:
    wants = load("candor.target").all("Unit", "Wants")
    assert "candor-migrate.service" in wants
    assert sum(w.startswith("candor-api@") for w in wants) >= 2
    assert sum(w.startswith("candor-worker@") for w in wants) >= 2


def test_the_example_environment_file_names_only_real_settings() -> None:
    names = env_file_names(SYSTEMD / "candor.env.example")
    for service in SERVICES:
        for assignment in load(service, instance="1").sections["Service"].get("Environment", []):
            names.add(assignment.partition("=")[0])
    assert {"CANDOR_DATABASE_URL", "CANDOR_REDIS_URL", "CANDOR_SECRET_KEY"} <= names
    assert unknown_settings(names) == set()


# --- running the units' commands for real --------------------------------------------------


class Output:
    """A process's combined output, read on a thread so the process never blocks on it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._process = process
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def environment(unit: Unit, env_file: Path, runtime_dir: Path) -> dict[str, str]:
    """What systemd gives the process: a small base, the EnvironmentFile, Environment=."""
    assert unit.get("Service", "EnvironmentFile") == ENVIRONMENT_FILE
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(runtime_dir)}
    for line in env_file.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    for assignment in unit.sections["Service"].get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = local(value, runtime_dir)
    return env


def start(unit: Unit, env_file: Path, runtime_dir: Path) -> tuple[subprocess.Popen[str], Output]:
    [command] = unit.sections["Service"]["ExecStart"]
    argv = [local(part, runtime_dir) for part in shlex.split(command)]
    workdir = local(unit.get("Service", "WorkingDirectory") or "/", runtime_dir)
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        env=environment(unit, env_file, runtime_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, Output(process)


# systemd counts a service that ends by one of these signals as a clean exit (systemd.exec:
# SuccessExitStatus=), as long as it is not a oneshot: uvicorn, for one, finishes its
# shutdown and then re-raises the SIGTERM it caught.
CLEAN_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}


def kill_signal(unit: Unit) -> signal.Signals:
    chosen: signal.Signals = getattr(signal, unit.get("Service", "KillSignal") or "SIGTERM")
    return chosen


def exited_cleanly(unit: Unit, code: int) -> bool:
    return code == 0 or (-code in CLEAN_SIGNALS and -code == kill_signal(unit))


def stop(unit: Unit, process: subprocess.Popen[str], output: Output) -> tuple[int, float]:
    """Send the unit's KillSignal and wait as long as its TimeoutStopSec allows."""
    timeout = float(unit.get("Service", "TimeoutStopSec", "90") or "90")
    began = time.monotonic()
    process.send_signal(kill_signal(unit))
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.wait()
        output.join()
        message = f"{unit.path.name} outlived TimeoutStopSec: {output.text()}"
        raise AssertionError(message) from exc
    output.join()
    return code, time.monotonic() - began


def write_env_file(path: Path, database_url: str) -> Path:
    path.write_text(
        "\n".join(
            [
                "# a test /etc/candor/candor.env",
                "CANDOR_ENV=test",
                f"CANDOR_SECRET_KEY={TEST_SECRET}",
                f"CANDOR_DATABASE_URL={database_url}",
                f"CANDOR_REDIS_URL={REDIS_URL}",
                "CANDOR_TRUSTED_PROXIES=127.0.0.1",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    """Stands in for /run/candor, which candor-migrate.service's RuntimeDirectory= creates."""
    directory = tmp_path / "run"
    (directory / "metrics").mkdir(parents=True)
    return directory


@pytest.fixture
def empty_database() -> Iterator[str]:
    with postgres_database("candor_units", POSTGRES_ADMIN_URL) as url:
        yield url


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


@pytest.mark.scaled
def test_the_migrate_unit_migrates_an_empty_database(
    empty_database: str, tmp_path: Path, runtime_dir: Path
) -> None:
    unit = load("candor-migrate.service")
    env_file = write_env_file(tmp_path / "candor.env", empty_database)
    process, output = start(unit, env_file, runtime_dir)
    code = process.wait(timeout=300)
    output.join()

    assert code == 0, output.text()
    assert "database at head" in output.text()
    assert {"alembic_version", "applications", "outbox"} <= asyncio.run(_tables(empty_database))


@pytest.mark.scaled
def test_the_api_unit_serves_readyz_and_stops_cleanly_on_its_kill_signal(
    postgres_url: str, tmp_path: Path, runtime_dir: Path
) -> None:
    port = free_port()
    unit = load("candor-api@.service", instance=str(port))
    env_file = write_env_file(tmp_path / "candor.env", postgres_url)
    process, output = start(unit, env_file, runtime_dir)
    try:
        ready = None
        deadline = time.monotonic() + 120  # a cold start on a busy 2-core machine
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None, f"no answer on 127.0.0.1:{port}: {output.text()}"
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
    finally:
        code, took = stop(unit, process, output) if process.poll() is None else (-1, 0.0)

    assert exited_cleanly(unit, code), output.text()
    assert "Application shutdown complete" in output.text()
    assert took < float(unit.get("Service", "TimeoutStopSec") or 90)


@pytest.mark.scaled
def test_the_worker_unit_starts_and_stops_cleanly_on_its_kill_signal(
    postgres_url: str, tmp_path: Path, runtime_dir: Path
) -> None:
    unit = load("candor-worker@.service", instance="1")
    env_file = write_env_file(tmp_path / "candor.env", postgres_url)
    process, output = start(unit, env_file, runtime_dir)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if "worker.started" in output.text():
                break
            time.sleep(0.2)
        assert "worker.started" in output.text(), output.text()
        time.sleep(2)  # let it claim and run its first jobs, so the stop interrupts work
    finally:
        code, took = stop(unit, process, output) if process.poll() is None else (-1, 0.0)

    assert exited_cleanly(unit, code), output.text()
    assert "worker.stopped" in output.text()
    assert "Traceback" not in output.text()
    assert took < float(unit.get("Service", "TimeoutStopSec") or 90)
