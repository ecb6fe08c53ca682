"""Database and Redis servers for the benchmarks.

- `postgres_database`: a scratch database on a PostgreSQL server, dropped afterwards.
- `PrivatePostgres` / `PrivateRedis`: server processes of the benchmark's own, on free ports
  in a temporary directory. The fault test stops and restarts these, never the machine's
  shared services, so it can run beside a test suite (and a crash of the test cannot leave
  the shared servers down).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from candor.devtools.scratch_database import postgres_database as new_postgres_database

SHARED_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def postgres_database(prefix: str, admin_url: str = SHARED_POSTGRES) -> AbstractContextManager[str]:
    """A database created for the run and dropped afterwards, even on failure."""
    return new_postgres_database(prefix, admin_url)


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {seconds:.0f} s")
        time.sleep(0.1)


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    for directory in reversed(versions):
        if (directory / name).exists():
            return str(directory / name)
    raise SystemExit(f"{name} not found: install PostgreSQL's server binaries")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb, trust auth) that can be stopped and started.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user,
    in a directory of its own that user can reach (not inside a root-only temporary one).
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="candor-postgres-"))
        self.directory.chmod(0o777)  # the postgres user writes its data, log and socket here
        self.data = self.directory / "pgdata"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        self._as_owner: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.start()

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as_owner, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr or result.stdout}")

    def up(self) -> bool:
        probe = [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
        pg_ctl = _postgres_bin("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        wait_until(self.up, "PostgreSQL")

    def stop(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        if self.up():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A Redis server of its own, keeping nothing on disk, that can be stopped and started."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(self.log),
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(self.up, "Redis")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None

    close = stop


@contextmanager
def scratch_database(mode: str, prefix: str) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL) for a benchmark run: a SQLite file and the in-process Redis
    emulation (`embedded`), or a scratch PostgreSQL database and a private Redis (`scaled`)."""
    if mode == "embedded":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite+aiosqlite:///{directory}/bench.sqlite3", "memory://"
        return
    with tempfile.TemporaryDirectory() as directory, postgres_database(prefix) as url:
        redis = PrivateRedis(Path(directory))
        try:
            yield url, redis.url
        finally:
            redis.stop()


def http_ok(url: str) -> bool:
    """Whether `url` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until_started(
    probe: Callable[[], object], process: subprocess.Popen[Any], what: str, seconds: float = 30
) -> None:
    """Until `probe` stops raising OSError (the server answers); RuntimeError naming `what`
    if the process exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            probe()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)
