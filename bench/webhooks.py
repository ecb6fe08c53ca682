"""Benchmark outbound webhooks: recorded events to signed deliveries at a local receiver.

    .venv/bin/python bench/webhooks.py                          # embedded, 5,000 events
    .venv/bin/python bench/webhooks.py --mode scaled --events 20000 --applications 1000

1. A scratch database (SQLite, or a PostgreSQL database created and dropped) is migrated and
   one endpoint subscribed to every event type is added.
2. Recording: `--events` events spread over `--applications` applications are written with
   `candor.webhooks.events.record_event`, 100 to a transaction (set-up; reported as events/s).
3. Delivery: a local receiver (`python -m candor.devtools.fake_ats_webhooks`, its own
   process) verifies every signature with the `standardwebhooks` library; one
   `WebhookQueue` (as in `candor worker`) fans the events out and drains them, timed from
   start to the last delivery (deliveries/s). Each application's events go in order, so at
   most one per application is in flight. The receiver's counts must show every event once,
   every signature verified; attempt latencies (p50/p99) come from `webhook_attempts`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from services import free_port, http_ok, scratch_database, wait_until
from sqlalchemy import select

from bot.channels.http11 import Http11Transport
from candor.clock import utcnow
from candor.db.migrate import upgrade_async
from candor.logging import configure_logging
from candor.models.webhooks import WebhookAttempt, WebhookEventType
from candor.runtime import open_runtime
from candor.settings import Settings
from candor.webhooks import events, service
from candor.webhooks.http import WebhookClient
from candor.webhooks.queue import WebhookQueue
from candor.webhooks.schemas import WebhookEndpointIn

ROOT = Path(__file__).resolve().parent.parent
TYPES = list(WebhookEventType)


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


async def add_endpoint(settings: Settings, url: str) -> str:
    """Migrate, add the endpoint; returns its secret."""
    await upgrade_async(settings)
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        endpoint = await service.create_endpoint(
            session,
            WebhookEndpointIn(url=url, event_types=TYPES),
            service.WebhookPolicy(True, timedelta(hours=24)),
            actor="bench",
            now=utcnow(),
        )
        return endpoint.secret


async def record_and_deliver(
    settings: Settings, total: int, applications: int, batch: int
) -> tuple[float, float, list[int], int]:
    """(recording seconds, delivery seconds, attempt latencies in ms, retries)."""
    async with open_runtime(settings) as runtime:
        started = time.perf_counter()
        for offset in range(0, total, 100):
            async with runtime.transaction() as session:
                for n in range(offset, min(total, offset + 100)):
                    events.record_event(
                        session,
                        TYPES[n % len(TYPES)],
                        ordering_key=f"application:{n % applications}",
                        data={"application_code": f"AP-2026-{n % applications:06d}"},
                        now=utcnow(),
                    )
        recorded = time.perf_counter() - started

        # As `candor worker` sends them: over bot's lean HTTP/1.1 transport.
        client = WebhookClient(
            timeout=10, allow_private=True, max_connections=batch, transport=Http11Transport()
        )
        queue = WebhookQueue(runtime, client=client, batch_size=batch)
        started = time.perf_counter()
        await queue.drain()
        drained = time.perf_counter() - started
        await queue.aclose()
        async with runtime.sessionmaker() as session:
            latencies = [
                v
                for v in (await session.scalars(select(WebhookAttempt.latency_ms))).all()
                if v is not None
            ]
    return recorded, drained, latencies, queue.stats.retried


def run(mode: str, total: int, applications: int, batch: int) -> None:
    port = free_port()
    with scratch_database(mode, "bench_webhooks") as (database_url, redis_url):
        settings = Settings(
            env="development",
            database_url=database_url,
            redis_url=redis_url,
            log_level="WARNING",
            webhooks_allow_private_networks=True,  # the receiver is on loopback
        )
        configure_logging(settings)
        secret = asyncio.run(add_endpoint(settings, f"http://127.0.0.1:{port}/hooks"))
        receiver = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "candor.devtools.fake_ats_webhooks",
                "--port",
                str(port),
                "--secret",
                secret,
            ],
            cwd=ROOT,
        )
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/_stats"), "receiver")
            recorded, drained, latencies, retries = asyncio.run(
                record_and_deliver(settings, total, applications, batch)
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats") as answer:
                stats = json.load(answer)
        finally:
            receiver.terminate()
            receiver.wait()
    print(f"mode {mode}: {total:,} events over {applications:,} applications, batch {batch}")
    print(f"recording: {total / recorded:,.0f} events/s ({recorded:.1f} s)")
    print(
        f"delivery: {total / drained:,.0f} deliveries/s ({drained:.1f} s); "
        f"attempts {len(latencies):,}; latency p50 {percentile(latencies, 0.5)} ms, "
        f"p99 {percentile(latencies, 0.99)} ms"
    )
    print(
        f"receiver: {stats['received']:,} received, {stats['verified']:,} verified, "
        f"{stats['distinct_ids']:,} distinct ids; retries {retries}"
    )
    if stats["verified"] != total or stats["distinct_ids"] != total:
        raise SystemExit("not every event arrived exactly once with a valid signature")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--applications", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    run(args.mode, args.events, args.applications, args.batch)


if __name__ == "__main__":
    main()
