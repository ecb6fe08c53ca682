"""Benchmark SMS sending: results texted per second through each provider's SDK to its local
fake, by `candor worker` processes.

    .venv/bin/python bench/sms.py                          # 5,000 texts, 2 workers, both providers
    .venv/bin/python bench/sms.py --texts 2000 --providers tencent --workers 1

1. A fresh PostgreSQL database is created (and dropped afterwards), migrated, the default
   templates loaded; applications at a completed AI interview are bulk-inserted, each
   candidate preferring SMS with a number of their own, and every template given an SMS form
   (set-up, not measured).
2. The results are decided through `accept_event` (drafted with their SMS parameters,
   auto-approved, queued on SMS), with the outbox held back.
3. For each provider: its fake (`python -m candor.devtools.fake_sms`, which verifies every
   request's signature) and N workers start with `CANDOR_SMS_*` pointing at it; the backlog is
   released at once and timed to the last `sent_at` (texts/s). The fake must have taken each
   text exactly once. The backlog and the per-number limits are reset between providers.

The SDKs block, so each worker sends from its SMS thread pool (`CANDOR_SMS_CONCURRENCY`).
Everything shares this machine's cores: workers, the fake, PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from outreach_harness import (
    REPO,
    WorkerProcess,
    bench_settings,
    cpu_seconds,
    decide_results_in_processes,
    hold_outbox,
    scalar,
    seed_world,
    stop_process,
    wait_ready,
    worker_environment,
)
from outreach_throughput import load_templates, reset_backlog, wait_sent
from redis import Redis
from services import free_port, postgres_database, wait_until_started
from sqlalchemy import String, cast, func, literal, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from candor.db.migrate import upgrade
from candor.devtools.fake_sms import FakeSmsState
from candor.logging import configure_logging
from candor.models import Candidate
from candor.models.outreach import MessageTemplate
from candor.settings import Settings

# A Redis database no test run uses (tests default to 13; the outreach benchmarks use 15).
REDIS_URL = "redis://127.0.0.1:6379/14"
SMS_FORM = {
    "aliyun": ("SMS_100001", {"name": "{{ candidate_name }}", "job": "{{ job_title }}",
                              "link": "c.example/r"}),
    "tencent": ("100001", {"1": "{{ candidate_name }}", "2": "{{ job_title }}",
                           "3": "c.example/r"}),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Run:
    provider: str
    workers: int
    texts: int
    drain_s: float
    worker_cpu_s: float
    fake_cpu_s: float
    sent: int
    unique: int


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class FakeSmsProcess:
    """`python -m candor.devtools.fake_sms` for one provider on a free port."""

    def __init__(self, provider: str, log_dir: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self._log = (log_dir / f"fake-sms-{provider}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "candor.devtools.fake_sms", "--provider", provider,
             "--port", str(self.port)],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until_started(self.summary, self.process, "the fake SMS provider")

    def summary(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.origin}/_control/summary", timeout=30) as response:  # noqa: S310
            data: dict[str, int] = json.load(response)
            return data

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


async def prefer_sms(url: str) -> None:
    """Every candidate prefers SMS, at a mainland number of their own (the per-number limits
    would otherwise hold texts to a shared number back)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Candidate).values(
                    preferred_channels=["sms"],
                    mobile=literal("139") + func.lpad(cast(Candidate.id, String), 8, "0"),
                )
            )
    finally:
        await engine.dispose()


async def give_templates_an_sms_form(url: str, provider: str) -> None:
    code, params = SMS_FORM[provider]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(MessageTemplate).values(sms_template_code=code, sms_params=params)
            )
    finally:
        await engine.dispose()


def sms_environment(provider: str, origin: str, concurrency: int) -> dict[str, str]:
    fake = FakeSmsState()
    return {
        "CANDOR_SMS_PROVIDER": provider,
        "CANDOR_SMS_ACCESS_KEY_ID": fake.access_key_id,
        "CANDOR_SMS_ACCESS_KEY_SECRET": fake.access_key_secret,
        "CANDOR_SMS_SDK_APP_ID": fake.sdk_app_id,
        "CANDOR_SMS_SIGN_NAME": "Candor",
        "CANDOR_SMS_ENDPOINT": origin,
        "CANDOR_SMS_CONCURRENCY": str(concurrency),
        "CANDOR_SMS_QUIET_HOURS_START": "00:00",  # equal: no quiet hours, at any hour
        "CANDOR_SMS_QUIET_HOURS_END": "00:00",
    }


def run_provider(
    url: str, provider: str, *, workers: int, texts: int, concurrency: int, log_dir: Path
) -> Run:
    asyncio.run(hold_outbox(url, hold=True))
    fake = FakeSmsProcess(provider, log_dir)
    env = worker_environment(
        url, REDIS_URL, "", **sms_environment(provider, fake.origin, concurrency)
    )
    processes = [WorkerProcess(env, log_dir / f"worker-{provider}-{n}.log") for n in range(workers)]
    try:
        wait_ready(processes)
        cpu_before = [cpu_seconds(w.pid) for w in processes]
        fake_before = cpu_seconds(fake.process.pid)
        asyncio.run(hold_outbox(url, hold=False))
        released = datetime.now(UTC)
        log(f"{provider}: {texts:,} texts released to {workers} worker(s)")
        last_sent = asyncio.run(wait_sent(url, (1, texts), processes, give_up_after=1800))
        drain_s = (last_sent - released).total_seconds()
        worker_cpu = sum(cpu_seconds(w.pid) - b for w, b in zip(processes, cpu_before, strict=True))
        fake_cpu = cpu_seconds(fake.process.pid) - fake_before
        summary = fake.summary()
    finally:
        for worker in processes:
            worker.stop()
        fake.stop()
    if summary["sent"] != texts or summary["unique"] != texts or summary["refused"]:
        raise SystemExit(f"the fake {provider} provider counted {summary}, expected {texts}")
    return Run(provider, workers, texts, drain_s, worker_cpu, fake_cpu, summary["sent"],
               summary["unique"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--providers", default="aliyun,tencent")
    parser.add_argument("--concurrency", type=int, default=16, help="CANDOR_SMS_CONCURRENCY")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    globals()["REDIS_URL"] = args.redis_url
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_logging(Settings(log_level="WARNING"))
    providers = args.providers.split(",")

    with (
        tempfile.TemporaryDirectory(prefix="candor-bench-sms-") as directory,
        postgres_database("candor_bench_sms") as url,
    ):
        log_dir = Path(directory)
        upgrade(bench_settings(url))
        asyncio.run(load_templates(bench_settings(url)))
        seeded = asyncio.run(seed_world(url, args.texts, args.seed))
        asyncio.run(prefer_sms(url))
        asyncio.run(give_templates_an_sms_form(url, providers[0]))
        log(f"seeded {len(seeded):,}; drafting")
        decide_results_in_processes(url, seeded, processes=2, concurrency=8)
        queued = int(asyncio.run(scalar(url, "SELECT count(*) FROM outbox WHERE channel = 'sms'")))
        if queued != args.texts:
            raise SystemExit(f"{queued} SMS outbox rows after drafting, expected {args.texts}")
        last_id = int(asyncio.run(scalar(url, "SELECT max(id) FROM outreach_messages")))
        runs = []
        for index, provider in enumerate(providers):
            if index:
                asyncio.run(reset_backlog(url, last_id))
                # The other provider's template code and positions, as its SMS form would give.
                asyncio.run(give_templates_an_sms_form(url, provider))
                asyncio.run(redraft_sms_params(url, provider))
            Redis.from_url(args.redis_url).flushdb()  # the per-number limits start afresh
            runs.append(
                run_provider(url, provider, workers=args.workers, texts=args.texts,
                             concurrency=args.concurrency, log_dir=log_dir)
            )  # fmt: skip
    print_table(runs)


async def redraft_sms_params(url: str, provider: str) -> None:
    """The drafted parameters in the provider's shape (the same values, keyed its way)."""
    engine = create_async_engine(url)
    keys = {"aliyun": ("name", "job", "link"), "tencent": ("1", "2", "3")}[provider]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE outreach_messages SET sms_params = jsonb_build_object("
                    "CAST(:k0 AS text), coalesce(sms_params->>'name', sms_params->>'1'), "
                    "CAST(:k1 AS text), coalesce(sms_params->>'job', sms_params->>'2'), "
                    "CAST(:k2 AS text), coalesce(sms_params->>'link', sms_params->>'3'))"
                ),
                {"k0": keys[0], "k1": keys[1], "k2": keys[2]},
            )
    finally:
        await engine.dispose()


def print_table(runs: list[Run]) -> None:
    lines = [
        f"{'provider':>8} {'workers':>7} {'texts':>7} {'drain s':>8} {'texts/s':>8} "
        f"{'worker CPU':>11} {'fake CPU':>9} {'taken':>6} {'unique':>7}"
    ]
    for run in runs:
        lines.append(
            f"{run.provider:>8} {run.workers:>7} {run.texts:>7,} {run.drain_s:>8.1f} "
            f"{run.texts / run.drain_s:>8,.0f} {run.worker_cpu_s / run.drain_s:>11.0%} "
            f"{run.fake_cpu_s / run.drain_s:>9.0%} {run.sent:>6,} {run.unique:>7,}"
        )
    lines += [
        "",
        "texts/s: the whole backlog released at once, to the last outbox sent_at; every text",
        "signed by the provider's SDK and its signature verified by the fake.",
        f"CPU: CPU seconds per second of drain (100% = one core of {os.cpu_count()}).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
