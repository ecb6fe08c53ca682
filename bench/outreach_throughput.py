"""Benchmark result outreach end to end on PostgreSQL: decided results to sent messages.

    .venv/bin/python bench/outreach_throughput.py                 # 100,000 results
    .venv/bin/python bench/outreach_throughput.py --results 20000 --workers 2

1. A fresh database is created (and dropped afterwards), migrated, and the default
   templates are loaded. Applications at a completed AI interview are bulk-inserted (set-up,
   not measured).
2. Drafting: one `result_decided` event per application goes through `accept_event`
   with an outreach context, one transaction per event as the API does it: the message is
   drafted, auto-approved (advance) and its outbox row written. Reported as drafts/s.
3. Delivery, for each worker count: a local fake provider
   (`python -m candor.devtools.fake_channel`) and N `candor worker` processes start; the
   whole backlog is released at once and timed until every outbox row is `sent`
   (deliveries/s). Then, with the workers still running, a further batch of results is
   decided live and the time from approval to send (outbox `sent_at` minus the message's
   `decided_at`) is reported at p50/p99. The fake's counters must show exactly one delivery
   per message and no duplicates. The backlog is reset between worker counts.

Everything shares this machine's cores: the workers, the fake provider, PostgreSQL and the
drafting process of the live phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from outreach_harness import (
    FakeChannelProcess,
    Seeded,
    WorkerProcess,
    bench_settings,
    cpu_seconds,
    decide_results,
    decide_results_in_processes,
    execute,
    hold_outbox,
    scalar,
    seed_world,
    wait_ready,
    worker_environment,
)
from services import postgres_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.bootstrap import ensure_reference_data
from candor.db.migrate import upgrade
from candor.logging import configure_logging
from candor.runtime import open_runtime
from candor.settings import Settings

# A Redis database no test run uses (tests default to 13; concurrent runs pick others).
REDIS_URL = "redis://127.0.0.1:6379/15"


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class Run:
    workers: int
    backlog: int
    drain_s: float
    worker_cpu_s: float
    fake_cpu_s: float
    live: int
    live_drafts_per_s: float
    latency: Latency
    deliveries: int
    duplicates: int


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def load_templates(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        await ensure_reference_data(runtime)


async def reset_backlog(url: str, last_message_id: int) -> None:
    """Put the backlog back to queued and unsent, as it was after drafting."""
    await execute(
        url,
        "UPDATE outbox SET state = 'pending', attempts = 0, lease_until = NULL, "
        "claimed_by = NULL, last_error = NULL, provider_message_id = NULL, sent_at = NULL, "
        "ambiguous = FALSE WHERE message_id <= :last",
        "UPDATE outreach_messages SET state = 'queued', channel = NULL, sent_at = NULL "
        "WHERE id <= :last",
        "DELETE FROM message_transitions WHERE message_id <= :last AND to_state = 'sent'",
        last=last_message_id,
    )
    await execute(url, "VACUUM ANALYZE outbox, outreach_messages", autocommit=True)


async def wait_sent(
    url: str, messages: tuple[int, int], workers: list[WorkerProcess], *, give_up_after: float
) -> datetime:
    """Poll until every outbox row of the messages with ids in `messages` (inclusive) is sent;
    returns the last sent_at."""
    engine = create_async_engine(url)
    deadline = time.monotonic() + give_up_after
    reported = time.monotonic()
    try:
        while True:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text(
                            "SELECT count(*), count(*) FILTER (WHERE state = 'sent'), "
                            "max(sent_at) FROM outbox WHERE message_id BETWEEN :first AND :last"
                        ),
                        {"first": messages[0], "last": messages[1]},
                    )
                ).one()
            total, sent, last = int(row[0]), int(row[1]), row[2]
            if sent == total:
                assert isinstance(last, datetime)
                return last
            if any(not worker.alive() for worker in workers):
                raise RuntimeError("a worker exited; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sent:,} of {total:,} sent after {give_up_after:.0f} s")
            if time.monotonic() - reported > 10:
                log(f"  {sent:,} / {total:,} sent")
                reported = time.monotonic()
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def latency(url: str, first_message_id: int) -> Latency:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
                        "percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d) FROM ("
                        " SELECT extract(epoch FROM o.sent_at - m.decided_at) AS d"
                        " FROM outbox o JOIN outreach_messages m ON m.id = o.message_id"
                        " WHERE m.id >= :first AND o.state = 'sent') AS waits"
                    ),
                    {"first": first_message_id},
                )
            ).one()
    finally:
        await engine.dispose()
    return Latency(float(row[0]), float(row[1]), float(row[2]))


def run_workers(
    url: str,
    count: int,
    *,
    backlog: int,
    last_backlog_id: int,
    live: list[Seeded],
    drafters: int,
    log_dir: Path,
    env_extra: dict[str, str],
) -> Run:
    asyncio.run(hold_outbox(url, hold=True))
    fake = FakeChannelProcess(log_dir)
    env = worker_environment(url, REDIS_URL, fake.url, **env_extra)
    workers = [WorkerProcess(env, log_dir / f"worker-{count}-{n}.log") for n in range(count)]
    try:
        wait_ready(workers)
        cpu_before = [cpu_seconds(w.pid) for w in workers]
        fake_before = cpu_seconds(fake.process.pid)
        asyncio.run(hold_outbox(url, hold=False))
        released = datetime.now(UTC)
        log(f"{count} worker(s): backlog of {backlog:,} released")
        last_sent = asyncio.run(wait_sent(url, (1, last_backlog_id), workers, give_up_after=3600))
        drain_s = (last_sent - released).total_seconds()
        worker_cpu = sum(cpu_seconds(w.pid) - b for w, b in zip(workers, cpu_before, strict=True))
        fake_cpu = cpu_seconds(fake.process.pid) - fake_before
        log(f"{count} worker(s): backlog sent in {drain_s:.1f} s; deciding {len(live):,} live")
        first_live = int(asyncio.run(scalar(url, "SELECT max(id) FROM outreach_messages"))) + 1
        live_s = asyncio.run(decide_results(bench_settings(url), live, concurrency=drafters))
        last_live = int(asyncio.run(scalar(url, "SELECT max(id) FROM outreach_messages")))
        asyncio.run(wait_sent(url, (first_live, last_live), workers, give_up_after=600))
        waits = asyncio.run(latency(url, first_live))
        summary = fake.summary()
    finally:
        for worker in workers:
            worker.stop()
        fake.stop()
    expected = backlog + len(live)
    if summary["deliveries"] != expected or summary["unique"] != expected:
        raise SystemExit(f"fake channel counted {summary}, expected {expected} deliveries")
    if summary["duplicates"]:
        raise SystemExit(f"{summary['duplicates']} duplicate deliveries without a crash")
    return Run(
        workers=count,
        backlog=backlog,
        drain_s=drain_s,
        worker_cpu_s=worker_cpu,
        fake_cpu_s=fake_cpu,
        live=len(live),
        live_drafts_per_s=len(live) / live_s,
        latency=waits,
        deliveries=summary["deliveries"],
        duplicates=summary["duplicates"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000, help="the backlog size")
    parser.add_argument(
        "--live", type=int, default=5_000, help="results decided while workers run (latency)"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument(
        "--draft-processes", type=int, default=2, help="processes drafting the backlog"
    )
    parser.add_argument("--drafters", type=int, default=8, help="sessions per drafting process")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the workers, e.g. CANDOR_DISPATCHER_BATCH_SIZE=200",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    env_extra = dict(item.split("=", 1) for item in args.worker_env)
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C: workers stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(Settings(log_level="WARNING"))  # this process; workers log at INFO

    with (
        tempfile.TemporaryDirectory(prefix="candor-bench-") as directory,
        postgres_database("candor_bench_outreach") as url,
    ):
        log_dir = Path(directory)
        settings = bench_settings(url)
        upgrade(settings)
        asyncio.run(load_templates(settings))
        started = time.perf_counter()
        seeded = asyncio.run(seed_world(url, args.results + args.live * len(counts), args.seed))
        log(f"seeded {len(seeded):,} applications in {time.perf_counter() - started:.1f} s")

        backlog = seeded[: args.results]
        log(f"drafting {args.results:,} results in {args.draft_processes} process(es)")
        draft_s = decide_results_in_processes(
            url, backlog, processes=args.draft_processes, concurrency=args.drafters
        )
        queued = int(asyncio.run(scalar(url, "SELECT count(*) FROM outbox")))
        if queued != args.results:
            raise SystemExit(f"{queued} outbox rows after drafting, expected {args.results}")
        last_backlog_id = int(asyncio.run(scalar(url, "SELECT max(id) FROM outreach_messages")))
        log(f"drafted {args.results:,} in {draft_s:.1f} s")
        asyncio.run(execute(url, "VACUUM ANALYZE", autocommit=True))

        runs: list[Run] = []
        for index, count in enumerate(counts):
            if index:
                asyncio.run(reset_backlog(url, last_backlog_id))
            live = seeded[args.results + index * args.live :][: args.live]
            runs.append(
                run_workers(
                    url,
                    count,
                    backlog=args.results,
                    last_backlog_id=last_backlog_id,
                    live=live,
                    drafters=args.drafters,
                    log_dir=log_dir,
                    env_extra=env_extra,
                )
            )
    print_table(args, draft_s, runs)


def print_table(args: argparse.Namespace, draft_s: float, runs: list[Run]) -> None:
    lines = [
        f"drafting: {args.results:,} results through accept_event ({args.draft_processes} "
        f"process(es) x {args.drafters} sessions, no workers running) in {draft_s:.1f} s = "
        f"{args.results / draft_s:,.0f} drafts/s",
        "",
        f"{'workers':>7} {'backlog':>9} {'drain s':>8} {'deliveries/s':>13} "
        f"{'worker CPU':>11} {'fake CPU':>9} {'live':>6} {'live drafts/s':>14} "
        f"{'p50 approve→send':>17} {'p99':>7} {'max':>7} {'delivered':>10} {'dups':>5}",
    ]
    for run in runs:
        lines.append(
            f"{run.workers:>7} {run.backlog:>9,} {run.drain_s:>8.1f} "
            f"{run.backlog / run.drain_s:>13,.0f} "
            f"{run.worker_cpu_s / run.drain_s:>11.0%} {run.fake_cpu_s / run.drain_s:>9.0%} "
            f"{run.live:>6,} {run.live_drafts_per_s:>14,.0f} "
            f"{run.latency.p50:>16.2f}s {run.latency.p99:>6.2f}s {run.latency.max:>6.2f}s "
            f"{run.deliveries:>10,} {run.duplicates:>5}"
        )
    lines += [
        "",
        "deliveries/s: the whole backlog released at once, to the last outbox sent_at.",
        "approve→send: outbox sent_at - message decided_at for the live results, decided by one",
        f"process ({args.drafters} sessions) while the workers ran.",
        "worker/fake CPU: CPU seconds per second of drain (100% = one core; the machine has",
        f"{os.cpu_count()} cores, shared with PostgreSQL).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
