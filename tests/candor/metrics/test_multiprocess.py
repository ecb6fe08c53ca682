"""Multiprocess metrics with real processes: `candor serve --workers 2` and `candor worker`
sharing one CANDOR_METRICS_DIR, and /metrics on either API process answering for all of them.

Embedded defaults cannot run several processes (`serve` refuses): there the one process
serves, with the directory, what it counted itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from candor.metrics import host_name
from candor.runtime import Runtime
from candor.settings import Settings
from tests.candor.metrics.processes import dead_pid
from tests.candor.test_cli import CANDOR
from tests.fakes import free_port, stop_process

HEALTHZ = {"method": "GET", "route": "/healthz", "status": "200"}
SCRAPE = {"method": "GET", "route": "/metrics", "status": "200"}
FILE = re.compile(r"-(\d+)\.db$")  # `<kind>_<host>-<pid>.db`


def _env(settings: Settings, metrics_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CANDOR_", "PROMETHEUS_"))
    }
    return {
        **env,
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": settings.secret_key.get_secret_value(),
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": settings.redis_url,
        "CANDOR_METRICS_DIR": str(metrics_dir),
        "CANDOR_LOG_LEVEL": "WARNING",
    }


@contextmanager
def _process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*CANDOR, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        stop_process(process)


def _wait_ready(server: subprocess.Popen[str], url: str) -> None:
    # Generous: two processes importing the app on a busy 2-core machine.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.kill()
    _, stderr = server.communicate()
    raise AssertionError(f"no answer on /readyz within 120 s: {stderr}")


def _sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def _scrape(url: str) -> str:
    # A new connection each time, so the kernel may hand it to either API process.
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def _by_process(directory: Path, name: str, labels: dict[str, str]) -> dict[int, float]:
    """One sample as each process's own files have it (read apart from the others')."""
    found: dict[int, float] = {}
    pids = {int(m.group(1)) for f in directory.glob("*.db") if (m := FILE.search(f.name))}
    for pid in pids:
        with tempfile.TemporaryDirectory() as alone:
            for path in directory.glob(f"*_{host_name()}-{pid}.db"):
                shutil.copy(path, alone)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, alone)  # type: ignore[no-untyped-call]
            found[pid] = registry.get_sample_value(name, labels) or 0.0
    return found


def test_every_api_process_serves_the_hosts_sum(runtime: Runtime, tmp_path: Path) -> None:
    settings = runtime.settings
    workers = 1 if settings.is_embedded else 2
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's file, of a process long gone and unreadable besides: nothing else
    # uses the directory, so serve clears it.
    stale = metrics_dir / f"counter_{host_name()}-{dead_pid()}.db"
    stale.write_bytes(b"not a metrics file")
    env = _env(settings, metrics_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    with _process(["serve", "--port", str(port), "--workers", str(workers)], env) as server:
        _wait_ready(server, url)
        assert not stale.exists()
        sent = 0
        # Each on its own connection until both processes have answered some.
        while sent < 40 or (
            workers > 1
            and sum(
                1
                for count in _by_process(
                    metrics_dir, "candor_http_request_duration_seconds_count", HEALTHZ
                ).values()
                if count
            )
            < workers
        ):
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            sent += 1
            assert sent < 400, "one API process answered every request"
        served = _by_process(metrics_dir, "candor_http_request_duration_seconds_count", HEALTHZ)
        assert sum(served.values()) == sent
        assert sum(1 for count in served.values() if count) == workers

        # Scrapes until each process has answered one: every answer is the host's sum.
        for _ in range(60):
            text = _scrape(url)
            assert _sample(text, "candor_http_request_duration_seconds_count", HEALTHZ) == sent
            scrapers = _by_process(
                metrics_dir, "candor_http_request_duration_seconds_count", SCRAPE
            )
            if sum(1 for count in scrapers.values() if count) == workers:
                break
        else:
            raise AssertionError(f"not every API process answered a scrape: {scrapers}")

        if workers > 1:
            _a_worker_counts_too(url, env, metrics_dir)


def _a_worker_counts_too(url: str, env: dict[str, str], metrics_dir: Path) -> None:
    """A `candor worker` beside the API: its jobs are in the API's answer and its heartbeat
    counts it alive; stopped, it is no longer alive but what it counted stays."""
    sla_watch = {"job_name": "sla_watch"}
    with _process(["worker"], env) as worker:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline and worker.poll() is None:
            text = _scrape(url)
            if (
                _sample(text, "candor_workers_alive", {}) == 1
                and (_sample(text, "candor_job_duration_seconds_count", sla_watch) or 0) >= 1
            ):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the worker never showed in /metrics: {text[-2000:]}")
        ran = _by_process(metrics_dir, "candor_job_duration_seconds_count", sla_watch)
        assert ran.get(worker.pid, 0) >= 1  # counted in the worker's own files
        stop_process(worker)
        assert worker.returncode == 0
    after = _scrape(url)
    assert _sample(after, "candor_workers_alive", {}) == 0  # it left the heartbeat set
    assert (_sample(after, "candor_job_duration_seconds_count", sla_watch) or 0) >= 1
