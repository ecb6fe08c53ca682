"""Backup-and-restore drill on PostgreSQL: back up a running, loaded system; restore it into a
new database; prove the copy is the snapshot, row for row, and that its outbox can carry on.

    .venv/bin/python deploy/backup/drill.py                      # 2,000 applications
    .venv/bin/python deploy/backup/drill.py --await-leases       # + the rows in flight
    .venv/bin/python deploy/backup/drill.py --applications 300 --no-deliver

1. A scratch database is created and migrated, templates loaded, and applications at a
   completed AI interview are bulk-inserted (set-up). A private Redis, a fake delivery
   provider (`python -m candor.devtools.fake_channel`), `candor serve` and `candor worker`
   start on it, and an integration token is created as `candor token create` does. The
   provider answers after 200 ms, so sends are in flight when the snapshot is taken.
2. Load: a thread posts `result_decided` events to the API (`POST /api/v1/ats/events`), so
   results are drafted, auto-approved and queued while the worker sends the outbox.
3. Backup, under that load: one REPEATABLE READ transaction exports its snapshot
   (`pg_export_snapshot()`), counts every table and the outbox by state and channel in that
   snapshot, and `pg_dump -Fc --snapshot=<id>` dumps exactly the same snapshot.
4. Restore: `pg_restore` into a new database. The restored counts must equal the snapshot's
   exactly, and the restored outbox must be coherent: a row is `sent` exactly when it has a
   `sent_at`; a message counted `sent` has a sent outbox row; every `in_flight` row carries a
   claim and a lease the dispatcher will take back once it runs out.
5. Unless `--no-deliver`: `candor serve` on the restored database answers /readyz 200, and a
   `candor worker` on it delivers every outbox row that was due (`pending`) in the backup to a
   new fake provider. With `--await-leases`, also the rows `in_flight` in the backup, each
   re-sent marked ambiguous once its lease runs out (up to a minute).

Prints a short report (backup seconds and size, restore seconds) and exits non-zero on any
mismatch. Needs PostgreSQL's client programs (pg_dump, pg_restore) of the server's version,
`redis-server` (or `--redis-url`), and an admin URL (`--admin-url`, default the local
`postgres` database) that may create and drop databases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from outreach_harness import (  # noqa: E402 - the benchmarks' harness, found through sys.path
    FakeChannelProcess,
    Seeded,
    WorkerProcess,
    bench_settings,
    result_event,
    seed_world,
    stop_process,
    wait_ready,
    worker_environment,
)
from services import (  # noqa: E402
    SHARED_POSTGRES,
    PrivateRedis,
    free_port,
    http_ok,
    postgres_database,
    wait_until,
)

from candor.access import tokens  # noqa: E402
from candor.access.cli import CLI_ACTOR  # noqa: E402
from candor.bootstrap import ensure_reference_data  # noqa: E402
from candor.db.migrate import upgrade  # noqa: E402
from candor.logging import configure_logging  # noqa: E402
from candor.runtime import open_runtime  # noqa: E402
from candor.settings import Settings  # noqa: E402

CANDOR = str(Path(sys.executable).with_name("candor"))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def plain_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, as the pg_* programs take it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# --- what a database holds --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Census:
    """Row counts per table, the outbox by (state, channel), and coherence violations."""

    tables: dict[str, int]
    outbox: dict[tuple[str, str], int]
    messages: dict[str, int]
    in_flight_leases: int
    violations: list[str] = field(default_factory=list)


COHERENCE = {
    "outbox rows 'sent' without sent_at, or with sent_at but not 'sent'": (
        "SELECT count(*) FROM outbox WHERE (state = 'sent') <> (sent_at IS NOT NULL)"
    ),
    "messages 'sent'/'delivered' with no sent outbox row": (
        "SELECT count(*) FROM outreach_messages m WHERE m.state IN ('sent', 'delivered') "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id AND o.state = 'sent')"
    ),
    "outbox rows 'sent' whose message is still queued (sent and pending at once)": (
        "SELECT count(*) FROM outbox o JOIN outreach_messages m ON m.id = o.message_id "
        "WHERE o.state = 'sent' AND m.state = 'queued'"
    ),
    "outbox rows 'in_flight' without a claim or lease (never retried)": (
        "SELECT count(*) FROM outbox WHERE state = 'in_flight' "
        "AND (lease_until IS NULL OR claimed_by IS NULL)"
    ),
    "outbox rows 'pending' still holding a lease": (
        "SELECT count(*) FROM outbox WHERE state = 'pending' AND lease_until IS NOT NULL"
    ),
}


async def take_census(connection: AsyncConnection) -> Census:
    # One statement counts every table (query_to_xml runs a count per table, server-side).
    tables = {
        str(name): int(n)
        for name, n in await connection.execute(
            text(
                "SELECT tablename, (xpath('/row/n/text()', query_to_xml("
                "format('SELECT count(*) AS n FROM %I.%I', schemaname, tablename),"
                " false, true, '')))[1]::text::bigint AS n "
                "FROM pg_tables WHERE schemaname = 'public'"
            )
        )
    }
    outbox = {
        (str(state), str(channel)): int(n)
        for state, channel, n in await connection.execute(
            text("SELECT state::text, channel::text, count(*) FROM outbox GROUP BY 1, 2")
        )
    }
    messages = {
        str(state): int(n)
        for state, n in await connection.execute(
            text("SELECT state::text, count(*) FROM outreach_messages GROUP BY 1")
        )
    }
    leases = int(
        await connection.scalar(text("SELECT count(*) FROM outbox WHERE state = 'in_flight'"))
    )
    violations = []
    for what, query in COHERENCE.items():
        found = int(await connection.scalar(text(query)))
        if found:
            violations.append(f"{found} {what}")
    return Census(tables, outbox, messages, leases, violations)


def compare(snapshot: Census, restored: Census) -> list[str]:
    """What differs between the snapshot and the restored copy (empty when identical)."""
    problems = [
        f"table {name}: {snapshot.tables.get(name)} in the snapshot, "
        f"{restored.tables.get(name)} restored"
        for name in sorted(set(snapshot.tables) | set(restored.tables))
        if snapshot.tables.get(name) != restored.tables.get(name)
    ]
    problems += [
        f"outbox {state}/{channel}: {snapshot.outbox.get((state, channel))} in the snapshot, "
        f"{restored.outbox.get((state, channel))} restored"
        for state, channel in sorted(set(snapshot.outbox) | set(restored.outbox))
        if snapshot.outbox.get((state, channel)) != restored.outbox.get((state, channel))
    ]
    if snapshot.messages != restored.messages:
        problems.append(f"messages by state: {snapshot.messages} vs {restored.messages}")
    problems += [f"snapshot: {v}" for v in snapshot.violations]
    problems += [f"restored: {v}" for v in restored.violations]
    return problems


# --- backup and restore -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    seconds: float
    census: Census


async def backup(url: str, path: Path) -> Backup:
    """pg_dump of one exported snapshot, and the census of that same snapshot."""
    engine = create_async_engine(url, isolation_level="REPEATABLE READ")
    try:
        async with engine.connect() as connection, connection.begin():
            snapshot_id = await connection.scalar(text("SELECT pg_export_snapshot()"))
            census = await take_census(connection)
            started = time.perf_counter()
            # The exporting transaction must stay open while pg_dump imports the snapshot.
            dump = await asyncio.create_subprocess_exec(
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot_id}",
                f"--file={path}",
                plain_url(url),
                stderr=asyncio.subprocess.PIPE,
            )
            _, error = await dump.communicate()
            seconds = time.perf_counter() - started
            if dump.returncode:
                raise RuntimeError(f"pg_dump failed: {error.decode(errors='replace')}")
    finally:
        await engine.dispose()
    return Backup(path, seconds, census)


def restore(path: Path, url: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={plain_url(url)}", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"pg_restore failed: {result.stderr}")
    return time.perf_counter() - started


async def census_of(url: str) -> Census:
    engine = create_async_engine(url, isolation_level="REPEATABLE READ")
    try:
        async with engine.connect() as connection, connection.begin():
            return await take_census(connection)
    finally:
        await engine.dispose()


async def count(url: str, sql: str, **params: Any) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text(sql), params))
    finally:
        await engine.dispose()


async def ids(url: str, sql: str) -> list[int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [int(row[0]) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


# --- the running system -----------------------------------------------------------------


class ApiProcess:
    """`candor serve` on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [CANDOR, "serve", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def wait(self) -> None:
        wait_until(lambda: self.process.poll() is not None or self.ready(), "the API", 90)
        if self.process.poll() is not None:
            raise RuntimeError(f"the API exited; see {self.log_path}")

    def ready(self) -> bool:
        return http_ok(f"{self.base}/readyz")

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


async def create_token(settings: Settings) -> str:
    """What `candor token create --scope ats:write` does, without a process start."""
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        issued = await tokens.create_token(
            session, actor=CLI_ACTOR, name="backup-drill", scopes=["ats:write"]
        )
        return issued.plaintext


class Load:
    """Posts `result_decided` events to the API from a thread until stopped."""

    def __init__(self, base: str, token: str, applications: list[Seeded], per_second: float):
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(base, token, applications, per_second), daemon=True
        )
        self._thread.start()

    def _run(self, base: str, token: str, applications: list[Seeded], per_second: float) -> None:
        pause = 1.0 / per_second
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for seeded in applications:
                if self._stop.is_set():
                    return
                response = http.post("/api/v1/ats/events", json=result_event(seeded))
                if response.status_code >= 300:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                self.sent += 1
                time.sleep(pause)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@contextmanager
def running(env: dict[str, str], log_dir: Path, tag: str) -> Iterator[tuple[ApiProcess, Any]]:
    """An API and a worker on `env`'s database; a fake provider they deliver to."""
    with ExitStack() as stack:
        # The provider answers after 200 ms, as a slow real one would: sends overlap the
        # snapshot, so the backup catches rows in flight (claimed, not yet recorded).
        fake = FakeChannelProcess(log_dir, latency_ms=200)
        stack.callback(fake.stop)
        env = {**env, "CANDOR_DELIVERY_WEBHOOK_URL": fake.url}
        # Both start at once: each spends seconds importing the application.
        api = ApiProcess(env, log_dir / f"api-{tag}.log")
        stack.callback(api.stop)
        worker = WorkerProcess(env, log_dir / f"worker-{tag}.log")
        stack.callback(worker.stop)
        api.wait()
        wait_ready([worker])
        yield api, fake


# --- the drill --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    events_posted: int
    backup_s: float
    backup_bytes: int
    restore_s: float
    snapshot: Census
    delivered_after_restore: int | None
    readyz_after_restore: bool | None
    ambiguous_after_restore: int | None


async def prepare(url: str, applications: int, seed: int) -> tuple[list[Seeded], str]:
    settings = bench_settings(url)
    await asyncio.to_thread(upgrade, settings)
    async with open_runtime(settings) as runtime:
        await ensure_reference_data(runtime)
    return await seed_world(url, applications, seed), await create_token(settings)


def drill(args: argparse.Namespace, log_dir: Path) -> Report:
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database("candor_drill", args.admin_url))
        redis_url = args.redis_url
        if redis_url is None:
            redis = PrivateRedis(log_dir)
            stack.callback(redis.stop)
            redis_url = redis.url
        seeded, token = asyncio.run(prepare(url, args.applications, args.seed))
        log(f"seeded {len(seeded):,} applications; starting the API and a worker")
        env = worker_environment(url, redis_url, "http://127.0.0.1:9/unused")

        with running(env, log_dir, "live") as (api, _fake):
            load = Load(api.base, token, seeded, args.rate)
            try:
                wait_until(lambda: load.errors != [] or load.sent >= args.warm_up, "the load", 120)
                if load.errors:
                    raise RuntimeError(f"the API refused an event: {load.errors[0]}")
                sent_before = asyncio.run(
                    count(url, "SELECT count(*) FROM outbox WHERE state = 'sent'")
                )
                log(f"{load.sent} events posted, {sent_before} sent; backing up under load")
                dump = asyncio.run(backup(url, log_dir / "candor.dump"))
            finally:
                load.stop()
            if load.errors:
                raise RuntimeError(f"the API refused an event: {load.errors[0]}")
            posted = load.sent
        log(f"backup: {dump.seconds:.2f} s, {dump.path.stat().st_size:,} bytes; restoring")

        restored_url = stack.enter_context(postgres_database("candor_restored", args.admin_url))
        restore_s = restore(dump.path, restored_url)
        restored = asyncio.run(census_of(restored_url))
        problems = compare(dump.census, restored)
        if problems:
            raise SystemExit("restore mismatch:\n  " + "\n  ".join(problems))
        log(f"restored in {restore_s:.2f} s; counts and outbox state match the snapshot")

        delivered = ready = ambiguous = None
        if args.deliver:
            delivered, ready, ambiguous = deliver_after_restore(
                restored_url, log_dir, args.redis_url, await_leases=args.await_leases
            )
        return Report(
            posted,
            dump.seconds,
            dump.path.stat().st_size,
            restore_s,
            dump.census,
            delivered,
            ready,
            ambiguous,
        )


def deliver_after_restore(
    url: str, log_dir: Path, redis_url: str | None, *, await_leases: bool
) -> tuple[int, bool, int]:
    """Run the system on the restored copy: /readyz, then every row that was due in the
    backup gets sent; with `await_leases`, the rows in flight too, once their leases run
    out (re-sent marked ambiguous). Returns (deliveries, ready, ambiguous re-sends)."""
    pending = asyncio.run(ids(url, "SELECT id FROM outbox WHERE state = 'pending'"))
    in_flight = asyncio.run(ids(url, "SELECT id FROM outbox WHERE state = 'in_flight'"))
    due = pending + in_flight if await_leases else pending
    # Without --redis-url, a new empty Redis: as after losing Redis with the database.
    redis = PrivateRedis(log_dir) if redis_url is None else None
    try:
        env = worker_environment(
            url, redis.url if redis is not None else str(redis_url), "http://127.0.0.1:9/unused"
        )
        with running(env, log_dir, "restored") as (api, fake):
            ready = api.ready()
            sent = "SELECT count(*) FROM outbox WHERE state = 'sent' AND id = ANY(:ids)"
            wait_until(
                lambda: asyncio.run(count(url, sent, ids=due)) == len(due),
                "delivery of the restored outbox",
                # A lease is 60 s from the claim, which may have been just before the backup.
                180 if await_leases else 120,
            )
            summary = fake.summary()
        ambiguous = asyncio.run(
            count(url, "SELECT count(*) FROM outbox WHERE ambiguous AND id = ANY(:ids)", ids=due)
        )
    finally:
        if redis is not None:
            redis.stop()
    if summary["deliveries"] < len(due):
        raise SystemExit(f"{summary['deliveries']} delivered after restore, {len(due)} were due")
    if await_leases and ambiguous != len(in_flight):
        raise SystemExit(f"{len(in_flight)} rows were in flight, {ambiguous} re-sent as ambiguous")
    return summary["deliveries"], ready, ambiguous


def print_report(report: Report) -> None:
    outbox: dict[str, int] = {}
    for (state, _), n in report.snapshot.outbox.items():
        outbox[state] = outbox.get(state, 0) + n
    lines = [
        f"events posted during the drill: {report.events_posted}",
        f"snapshot: {sum(report.snapshot.tables.values()):,} rows in "
        f"{len(report.snapshot.tables)} tables; outbox "
        + ", ".join(f"{state} {n}" for state, n in sorted(outbox.items())),
        f"backup (pg_dump -Fc, under load): {report.backup_s:.2f} s, "
        f"{report.backup_bytes / 1024:,.0f} KiB",
        f"restore (pg_restore into a new database): {report.restore_s:.2f} s",
        "restored copy: every table's count and the outbox by state and channel equal the "
        "snapshot's; no incoherent outbox row",
        f"in flight at the snapshot: {report.snapshot.in_flight_leases} (each with a claim and "
        "a lease; once it runs out the dispatcher re-sends the row, marked ambiguous)",
    ]
    if report.delivered_after_restore is not None:
        lines.append(
            f"after restore: /readyz {'200' if report.readyz_after_restore else 'NOT ready'}; "
            f"{report.delivered_after_restore} deliveries, every row due in the backup sent"
        )
    if report.ambiguous_after_restore:
        lines.append(
            f"after restore: the {report.ambiguous_after_restore} rows in flight in the backup "
            "were re-sent, marked ambiguous, once their leases ran out"
        )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=2_000, help="seeded applications")
    parser.add_argument("--rate", type=float, default=50, help="ATS events per second")
    parser.add_argument(
        "--warm-up", type=int, default=100, help="events posted before the backup starts"
    )
    parser.add_argument("--admin-url", default=SHARED_POSTGRES, help="a maintenance database")
    parser.add_argument(
        "--no-deliver",
        dest="deliver",
        action="store_false",
        help="skip starting the system on the restored database",
    )
    parser.add_argument(
        "--await-leases",
        action="store_true",
        help="after restore, also wait (up to a minute) for the rows in flight to be re-sent",
    )
    parser.add_argument(
        "--redis-url",
        help="a Redis database the drill may use (default: a private redis-server it starts)",
    )
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    if args.warm_up >= args.applications:
        parser.error("--warm-up must be below --applications (the load must still run)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(Settings(log_level="WARNING"))
    os.environ.setdefault("CANDOR_LOG_LEVEL", "INFO")
    with tempfile.TemporaryDirectory(prefix="candor-drill-") as directory:
        print_report(drill(args, Path(directory)))


if __name__ == "__main__":
    main()
