"""Fault test with real processes: workers killed, Redis and PostgreSQL restarted mid-flow.

    .venv/bin/python bench/outreach_faults.py                 # 5,000 messages
    .venv/bin/python bench/outreach_faults.py --messages 2000 --seed 7

While 5,000 results are decided (one process, through `accept_event`, retrying failed
events as an ATS would) and their auto-approved messages flow through 2 `candor worker`
processes to the fake provider (`--latency-ms` per answer, like a real one):
- every few seconds a random worker gets `kill -9` and a replacement starts;
- Redis is shut down (nosave) and started again once, at about a quarter of the results;
- PostgreSQL is stopped for `--postgres-down` seconds (default 5) and started again once,
  at about half of the results (`--postgres-down 0`: stopped and started at once, which is
  over too fast here for pooled connections to notice).

Then it waits for the outbox to drain and checks: every message is `sent`, every idempotency
key reached the provider at least once, no worker exited on its own, and every duplicate the
provider saw is one a worker logged as `outbox.ambiguous_redelivery` (duplicates <= ambiguous
redeliveries). It prints both counts and PASS or FAIL (exit status 1).

The PostgreSQL and Redis it restarts are its own (`bench/services.py`: a cluster made with
initdb and a redis-server, on free ports in a temporary directory, removed at the end), so it
never stops the machine's shared servers and can run beside a test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outreach_harness import (
    FakeChannelProcess,
    Seeded,
    WorkerProcess,
    bench_settings,
    decide_results,
    seed_world,
    wait_ready,
    worker_environment,
)
from services import PrivatePostgres, PrivateRedis, postgres_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.bootstrap import ensure_reference_data
from candor.db.migrate import upgrade
from candor.logging import configure_logging
from candor.runtime import open_runtime
from candor.settings import Settings


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def restart_redis(redis: PrivateRedis, down_for: float) -> None:
    redis.stop()
    time.sleep(down_for)
    redis.start()


def restart_postgres(postgres: PrivatePostgres, down_for: float) -> None:
    """A plain restart is over in a few hundred milliseconds here, which pooled connections
    may never notice; stopping, waiting and starting makes a real outage."""
    postgres.stop()
    time.sleep(down_for)
    postgres.start()


# --- the flow -------------------------------------------------------------------------------


def _draft(url: str, applications: list[Seeded], concurrency: int) -> None:
    asyncio.run(
        decide_results(bench_settings(url), applications, concurrency=concurrency, retry=True)
    )


async def _count(url: str, sql: str) -> int | None:
    """A count, or None while the database is unreachable."""
    engine = create_async_engine(url, pool_pre_ping=True)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    except Exception:
        return None
    finally:
        await engine.dispose()


def count(url: str, sql: str) -> int | None:
    return asyncio.run(_count(url, sql))


@dataclass
class Chaos:
    rng: random.Random
    env: dict[str, str]
    log_dir: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    workers: list[WorkerProcess] = field(default_factory=list)
    started: list[WorkerProcess] = field(default_factory=list)
    kills: int = 0
    restarts: dict[str, int] = field(default_factory=lambda: {"redis": 0, "postgresql": 0})
    delivered_while_redis_down: int = 0
    postgres_down: float = 5.0

    def start_worker(self) -> None:
        worker = WorkerProcess(self.env, self.log_dir / f"worker-{len(self.started)}.log")
        self.workers.append(worker)
        self.started.append(worker)

    def kill_one(self) -> None:
        victim = self.rng.choice(self.workers)
        victim.kill9()
        self.workers.remove(victim)
        self.kills += 1
        self.start_worker()

    def exited_on_their_own(self) -> list[WorkerProcess]:
        return [worker for worker in self.workers if not worker.alive()]


def verify(url: str, fake: FakeChannelProcess, chaos: Chaos, expected: int) -> dict[str, Any]:
    async def outbox() -> tuple[list[tuple[str, str, bool]], dict[str, int]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text("SELECT idempotency_key, state, ambiguous FROM outbox")
                    )
                ).all()
                states = (
                    await connection.execute(
                        text("SELECT state, count(*) FROM outreach_messages GROUP BY state")
                    )
                ).all()
        finally:
            await engine.dispose()
        return [(r[0], r[1], bool(r[2])) for r in rows], {r[0]: int(r[1]) for r in states}

    rows, message_states = asyncio.run(outbox())
    delivered = collections.Counter(d["idempotency_key"] for d in fake.deliveries())
    keys = {key for key, _, _ in rows}
    events = [event for worker in chaos.started for event in worker.log_events()]
    logged = [e for e in events if e.get("event") == "outbox.ambiguous_redelivery"]
    logged_keys = collections.Counter(str(e.get("idempotency_key")) for e in logged)
    duplicated = {key: n - 1 for key, n in delivered.items() if n > 1}
    unexplained = {key: n for key, n in duplicated.items() if n > logged_keys.get(key, 0)}
    return {
        "messages": sum(message_states.values()),
        "message_states": message_states,
        "outbox_rows": len(rows),
        "outbox_not_sent": sum(1 for _, state, _ in rows if state != "sent"),
        "keys_never_delivered": len(keys - delivered.keys()),
        "deliveries": sum(delivered.values()),
        "duplicates": sum(duplicated.values()),
        "ambiguous_rows": sum(1 for _, _, ambiguous in rows if ambiguous),
        "ambiguous_logged": len(logged),
        "unexplained_duplicates": sum(unexplained.values()),
        "record_retries_logged": sum(1 for e in events if e.get("event") == "outbox.record_retry"),
        "failed_rounds_logged": sum(1 for e in events if e.get("event") == "delivery.round_failed"),
        "database_waits_logged": sum(
            1 for e in events if e.get("event") == "worker.database_unavailable"
        ),
        "job_failures_logged": sum(1 for e in events if e.get("event") == "worker.job_failed"),
        "expected": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument(
        "--kill-every", type=float, default=6.0, help="mean seconds between kill -9s"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=25.0, help="the fake provider's answer delay"
    )
    parser.add_argument(
        "--postgres-down",
        type=float,
        default=5.0,
        help="seconds PostgreSQL stays stopped (0: stopped and started at once)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="keep the workers' and the fake's logs here (default: a "
        "temporary directory, removed at the end)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(Settings(log_level="WARNING"))  # this process; workers log at INFO
    rng = random.Random(args.seed)

    started_at = time.monotonic()
    report: dict[str, Any] = {}
    chaos: Chaos | None = None
    with tempfile.TemporaryDirectory(prefix="candor-faults-") as directory:
        postgres = PrivatePostgres()
        redis = PrivateRedis(Path(directory))
        log(f"private PostgreSQL on port {postgres.port}, Redis on port {redis.port}")
        try:
            with postgres_database("candor_faults", postgres.admin_url) as url:
                log_dir = args.log_dir or Path(directory)
                log_dir.mkdir(parents=True, exist_ok=True)
                settings = bench_settings(url)
                upgrade(settings)

                async def templates() -> None:
                    async with open_runtime(settings) as runtime:
                        await ensure_reference_data(runtime)

                asyncio.run(templates())
                seeded = asyncio.run(seed_world(url, args.messages, args.seed))
                fake = FakeChannelProcess(log_dir, latency_ms=args.latency_ms)
                environment = worker_environment(url, redis.url, fake.url)
                chaos = Chaos(rng, environment, log_dir, postgres=postgres, redis=redis)
                chaos.postgres_down = args.postgres_down
                try:
                    report = run_flow(url, fake, chaos, seeded, args)
                finally:
                    for worker in chaos.workers:
                        worker.stop()
                    fake.stop()
                    if not postgres.up():  # so that the scratch database can be dropped
                        postgres.start()
        finally:
            redis.close()
            postgres.close()
    print_report(report, chaos, time.monotonic() - started_at, args)


def run_flow(
    url: str,
    fake: FakeChannelProcess,
    chaos: Chaos,
    seeded: list[Seeded],
    args: argparse.Namespace,
) -> dict[str, Any]:
    for _ in range(args.workers):
        chaos.start_worker()
    drafter = multiprocessing.get_context("spawn").Process(
        target=_draft, args=(url, seeded, 8), name="drafter"
    )
    drafter.start()
    log(f"deciding {args.messages:,} results while {args.workers} workers deliver")
    run_chaos(url, fake, chaos, drafter, args)
    drafter.join()
    if drafter.exitcode != 0:
        raise RuntimeError(f"the drafting process exited {drafter.exitcode}")
    while len(chaos.workers) < args.workers:
        chaos.start_worker()
    log("all results decided; waiting for the outbox to drain")
    drain(url, chaos)
    report = verify(url, fake, chaos, args.messages)
    report["unexpected_exits"] = len(chaos.exited_on_their_own())
    return report


def run_chaos(
    url: str,
    fake: FakeChannelProcess,
    chaos: Chaos,
    drafter: multiprocessing.process.BaseProcess,
    args: argparse.Namespace,
) -> None:
    """Kill workers at random moments until every result is decided; restart Redis at ~25 %
    and PostgreSQL at ~50 % of the results."""
    next_kill = time.monotonic() + chaos.rng.expovariate(1 / args.kill_every)
    while drafter.is_alive():
        time.sleep(0.2)
        if chaos.exited_on_their_own():
            raise RuntimeError("a worker exited without being killed; see its log")
        decided = count(url, "SELECT count(*) FROM outreach_messages") or 0
        if time.monotonic() >= next_kill:
            chaos.kill_one()
            log(f"kill -9 #{chaos.kills} at {decided:,} decided; replacement started")
            next_kill = time.monotonic() + chaos.rng.expovariate(1 / args.kill_every)
        if not chaos.restarts["redis"] and decided >= args.messages * 0.25:
            restart("redis", url, fake, chaos)
        if not chaos.restarts["postgresql"] and decided >= args.messages * 0.5:
            restart("postgresql", url, fake, chaos)


def restart(service: str, url: str, fake: FakeChannelProcess, chaos: Chaos) -> None:
    # Restart under running workers, not replacements still starting up (the outage would
    # then only test start-up).
    wait_ready(chaos.workers, timeout=60)
    before = fake.summary()["deliveries"]
    started = time.monotonic()
    if service == "redis":
        restart_redis(chaos.redis, down_for=5.0)
        chaos.delivered_while_redis_down = fake.summary()["deliveries"] - before
    else:
        restart_postgres(chaos.postgres, down_for=chaos.postgres_down)
    chaos.restarts[service] = 1
    log(f"{service} restarted ({time.monotonic() - started:.1f} s down or restarting)")


def drain(url: str, chaos: Chaos, give_up_after: float = 600.0) -> None:
    """Until every outbox row is sent; killed workers' rows come back when their 60 s lease
    expires."""
    deadline = time.monotonic() + give_up_after
    while True:
        pending = count(url, "SELECT count(*) FROM outbox WHERE state <> 'sent'")
        if pending == 0:
            return
        if chaos.exited_on_their_own():
            raise RuntimeError("a worker exited without being killed; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pending} outbox rows still not sent")
        time.sleep(1.0)


def print_report(
    report: dict[str, Any], chaos: Chaos | None, elapsed: float, args: argparse.Namespace
) -> None:
    if not report or chaos is None:
        print("FAIL: the run did not finish; see the messages above")
        raise SystemExit(1)
    problems = []
    if report["messages"] != args.messages or report["message_states"] != {"sent": args.messages}:
        problems.append(f"messages not all sent: {report['message_states']}")
    if report["outbox_not_sent"]:
        problems.append(f"{report['outbox_not_sent']} outbox rows not sent")
    if report["keys_never_delivered"]:
        problems.append(f"{report['keys_never_delivered']} idempotency keys never delivered")
    if report["duplicates"] > report["ambiguous_logged"] or report["unexplained_duplicates"]:
        problems.append("duplicates outside the logged ambiguous window")
    missed = [service for service, done in chaos.restarts.items() if done != 1]
    if missed or not chaos.kills:
        problems.append(
            f"faults not injected (too few messages?): restarts missed {missed}, "
            f"{chaos.kills} kill -9"
        )
    if report["unexpected_exits"]:
        problems.append(f"{report['unexpected_exits']} workers exited on their own")
    rows = [
        ("results decided / messages", f"{report['messages']:,}"),
        ("message states", ", ".join(f"{k} {v:,}" for k, v in report["message_states"].items())),
        ("outbox rows (not sent)", f"{report['outbox_rows']:,} ({report['outbox_not_sent']})"),
        ("keys never delivered", f"{report['keys_never_delivered']}"),
        ("deliveries at the provider", f"{report['deliveries']:,}"),
        ("worker processes started", f"{len(chaos.started)}"),
        ("kill -9", f"{chaos.kills}"),
        ("Redis restarts", f"{chaos.restarts['redis']}"),
        ("  deliveries while Redis was down", f"{chaos.delivered_while_redis_down}"),
        ("PostgreSQL restarts", f"{chaos.restarts['postgresql']} ({args.postgres_down:g} s down)"),
        ("failed dispatch rounds (logged, retried)", f"{report['failed_rounds_logged']}"),
        ("result recordings retried", f"{report['record_retries_logged']}"),
        ("workers waiting for the database at start", f"{report['database_waits_logged']}"),
        ("periodic job failures (logged, retried)", f"{report['job_failures_logged']}"),
        ("workers that exited on their own", f"{report['unexpected_exits']}"),
        ("DUPLICATES at the provider", f"{report['duplicates']}"),
        ("AMBIGUOUS redeliveries logged", f"{report['ambiguous_logged']}"),
        ("  outbox rows marked ambiguous", f"{report['ambiguous_rows']}"),
        ("  duplicates not logged as ambiguous", f"{report['unexplained_duplicates']}"),
        ("elapsed", f"{elapsed:.0f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    print(
        f"outreach fault test: {args.messages:,} messages, {args.workers} workers, seed "
        f"{args.seed}, provider latency {args.latency_ms:g} ms"
    )
    print("\n".join(f"  {label:<{width}}  {value}" for label, value in rows))
    if problems:
        print("FAIL: " + "; ".join(problems))
        raise SystemExit(1)
    print(
        f"PASS: every message delivered; {report['duplicates']} duplicates <= "
        f"{report['ambiguous_logged']} logged ambiguous redeliveries"
    )


if __name__ == "__main__":
    main()
