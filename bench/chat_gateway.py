"""Benchmark the conversation gateway: inbound chat messages from bound candidates, each
recorded, answered by the placeholder engine and its reply recorded (two transactions).

    .venv/bin/python bench/chat_gateway.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/chat_gateway.py --only postgres --messages 5000 --concurrency 32

Prints throughput and latency percentiles per database, and checks that every message and
reply was recorded exactly once (a redelivered copy of every tenth message is sent too and
must be dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from services import postgres_database
from sqlalchemy import func, select

from bot.conversation import ConversationGateway
from candor.chat.messages import InboundMessage
from candor.clock import utcnow
from candor.db.migrate import upgrade
from candor.models import Candidate, ChatIdentity, ChatMessage
from candor.models.chat import Direction
from candor.models.enums import Channel
from candor.runtime import Runtime
from candor.settings import Settings

SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a scratch database


def _settings(url: str) -> Settings:
    return Settings(env="test", secret_key=SECRET, database_url=url, redis_url="memory://")


async def _seed(runtime: Runtime, users: int) -> list[str]:
    ids = [f"bench-web-{n}" for n in range(users)]
    async with runtime.transaction() as session:
        candidates = [Candidate(external_id=f"bench-{n}", name=f"候选人{n}") for n in range(users)]
        session.add_all(candidates)
        await session.flush()
        now = utcnow()
        session.add_all(
            ChatIdentity(
                channel=Channel.WEB, external_user_id=user, candidate_id=c.id, bound_at=now
            )
            for user, c in zip(ids, candidates, strict=True)
        )
    return ids


async def _run(url: str, *, messages: int, concurrency: int, users: int) -> dict[str, float]:
    runtime = Runtime.create(_settings(url))
    try:
        ids = await _seed(runtime, users)
        gateway = ConversationGateway(runtime)
        rng = random.Random(7)
        plan = [(rng.choice(ids), f"m{n}") for n in range(messages)]
        plan += [plan[n] for n in range(0, messages, 10)]  # redeliveries
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def one(user: str, provider_id: str) -> None:
            async with gate:
                started = time.perf_counter()
                await gateway.handle(
                    InboundMessage(
                        Channel.WEB,
                        user,
                        utcnow(),
                        text="我的面试结果出来了吗？",
                        provider_message_id=provider_id,
                    )
                )
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(user, pid) for user, pid in plan))
        elapsed = time.perf_counter() - started
        async with runtime.sessionmaker() as session:
            counts = dict(
                (
                    await session.execute(
                        select(ChatMessage.direction, func.count()).group_by(ChatMessage.direction)
                    )
                ).all()
            )
        if counts.get(Direction.INBOUND) != messages or counts.get(Direction.OUTBOUND) != messages:
            raise SystemExit(f"recorded {counts}, expected {messages} each way")
        latencies.sort()
        return {
            "handled": len(plan),
            "elapsed": elapsed,
            "rate": len(plan) / elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        }
    finally:
        await runtime.aclose()


def _report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<10} {figures['handled']:.0f} messages in {figures['elapsed']:.2f} s: "
        f"{figures['rate']:,.0f} msg/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms"
        " (every message and reply recorded once)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    options = {"messages": args.messages, "concurrency": args.concurrency, "users": args.users}
    print(f"{sys.argv[0]}: {options}")
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
            upgrade(_settings(url))
            _report("SQLite", asyncio.run(_run(url, **options)))
    if args.only in (None, "postgres"):
        with postgres_database("candor_bench_chat") as url:
            upgrade(_settings(url))
            _report("PostgreSQL", asyncio.run(_run(url, **options)))


if __name__ == "__main__":
    main()
