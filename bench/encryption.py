"""The cost of encryption at rest: the same work with CANDOR_ENCRYPTION_AT_REST off and on.

    .venv/bin/python bench/encryption.py                       # everything, both databases
    .venv/bin/python bench/encryption.py --parts import,turn --only sqlite

- import: `candor import` of a generated candidates CSV (bench/import_candidates.py's), first
  run (inserts) and second run (updates), rows/s;
- turn: a candidate asking for progress in the web chat (bench/dialogue_turn.py's turn:
  identity lookup by blind index, the candidate's data read and decrypted, the reply
  written), p50/p99;
- kpi: `GET /api/v1/kpis` and the dashboard on a generated history (bench/kpi_dashboard.py),
  with the history sealed by `candor crypto reencrypt` when on; p50/p95. PostgreSQL only.

"Off" still writes the blind indexes (lookups use them either way): it measures what sealing
and opening values costs. Each mode gets fresh databases.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dialogue_turn  # noqa: E402  (bench/ is the script's directory)
import import_candidates  # noqa: E402
import kpi_dashboard  # noqa: E402
from services import postgres_database  # noqa: E402

from bot.conversation import ConversationGateway  # noqa: E402
from candor.chat.messages import InboundMessage  # noqa: E402
from candor.clock import utcnow  # noqa: E402
from candor.crypto.reencrypt import reencrypt  # noqa: E402
from candor.db.migrate import upgrade  # noqa: E402
from candor.importer.cli import run_import  # noqa: E402
from candor.logging import configure_logging  # noqa: E402
from candor.models.enums import Channel  # noqa: E402
from candor.runtime import Runtime  # noqa: E402
from candor.settings import Settings  # noqa: E402

SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a throwaway db


def settings_for(url: str, *, encrypted: bool, redis_url: str) -> Settings:
    return Settings(
        env="test",
        secret_key=SECRET,
        database_url=url,
        redis_url="memory://" if url.startswith("sqlite") else redis_url,
        encryption_at_rest=encrypted,
        log_level="WARNING",
    )


@contextmanager
def database(kind: str, label: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database(f"candor_bench_enc_{label}") as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite+aiosqlite:///{directory}/bench.sqlite3"


def bench_import(kind: str, encrypted: bool, csv_path: Path, rows: int, redis_url: str) -> str:
    with database(kind, "import") as url:
        settings = settings_for(url, encrypted=encrypted, redis_url=redis_url)
        upgrade(settings)
        figures = []
        for run in ("insert", "update"):
            started = time.perf_counter()
            if run_import(settings, csv_path) != 0:
                raise SystemExit(f"import failed on {kind}")
            figures.append(f"{run} {rows / (time.perf_counter() - started):,.0f} rows/s")
    return ", ".join(figures)


async def _turns(settings: Settings, turns: int, candidates: int) -> tuple[float, float]:
    runtime = Runtime.create(settings)
    gateway = ConversationGateway(runtime, engine=dialogue_turn.build_engine(runtime, None))
    await gateway.handle(
        InboundMessage(
            Channel.WEB, "web-0", utcnow(), text=dialogue_turn.QUESTION, provider_message_id="w"
        )
    )
    latencies = []
    for i in range(turns):
        message = InboundMessage(
            Channel.WEB,
            f"web-{i % candidates}",
            utcnow(),
            text=dialogue_turn.QUESTION,
            provider_message_id=f"m-{i}",
        )
        begin = time.perf_counter()
        replies = await gateway.handle(message)
        latencies.append(time.perf_counter() - begin)
        assert replies, "no answer"
        assert "AP-" in replies[0].text, replies
    await runtime.aclose()
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return statistics.median(latencies) * 1000, p99 * 1000


def bench_turn(kind: str, encrypted: bool, turns: int, candidates: int, redis_url: str) -> str:
    with database(kind, "turn") as url:
        settings = settings_for(url, encrypted=encrypted, redis_url=redis_url)
        upgrade(settings)
        asyncio.run(dialogue_turn.seed_database(settings, candidates))
        p50, p99 = asyncio.run(_turns(settings, turns, candidates))
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def bench_kpi(encrypted: bool, applications: int, requests: int) -> None:
    with postgres_database("candor_bench_enc_kpi") as url:
        upgrade(Settings(database_url=url, env="development"))
        scale = (applications, applications * 5, applications * 5, 730)
        asyncio.run(kpi_dashboard.generate(url, *scale))
        if encrypted:

            async def seal() -> None:
                runtime = Runtime.create(Settings(database_url=url, env="development"))
                try:
                    started = time.perf_counter()
                    report = await reencrypt(runtime, batch_size=1000)
                    print(
                        f"  history sealed: {report.rows_sealed:,} rows in "
                        f"{time.perf_counter() - started:.1f} s",
                        flush=True,
                    )
                finally:
                    await runtime.aclose()

            asyncio.run(seal())
        asyncio.run(kpi_dashboard.measure(url, 90, requests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="import,turn,kpi")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--rows", type=int, default=20_000, help="candidates imported")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--applications", type=int, default=20_000, help="KPI history")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    kinds = [k for k in ("sqlite", "postgres") if args.only in (None, k)]
    configure_logging(settings_for("sqlite://", encrypted=True, redis_url=args.redis_url))
    with tempfile.TemporaryDirectory(prefix="candor-bench-") as directory:
        csv_path = Path(directory) / "candidates.csv"
        if "import" in parts:
            import_candidates.write_candidates(csv_path, args.rows, 20260301)
        for encrypted in (False, True):
            mode = "on " if encrypted else "off"
            for kind in kinds:
                if "import" in parts:
                    figures = bench_import(kind, encrypted, csv_path, args.rows, args.redis_url)
                    print(
                        f"encryption {mode} {kind:<8} import {args.rows:,}: {figures}", flush=True
                    )
                if "turn" in parts:
                    figures = bench_turn(
                        kind, encrypted, args.turns, args.candidates, args.redis_url
                    )
                    print(f"encryption {mode} {kind:<8} progress turn: {figures}", flush=True)
            if "kpi" in parts and "postgres" in kinds:
                print(f"encryption {mode} postgres KPIs ({args.applications:,} applications):")
                bench_kpi(encrypted, args.applications, args.requests)


if __name__ == "__main__":
    main()
