"""Benchmark the metrics: what the HTTP middleware costs a request, and what a scrape costs
with many processes' files.

    .venv/bin/python bench/metrics.py
    .venv/bin/python bench/metrics.py --requests 20000 --processes 1,8,32

1. Middleware: the real app (`create_app`, embedded settings) is called directly as an ASGI
   app, with no network in between, for `GET /healthz` (the cheapest route, so the
   middleware's share is at its largest) and for `GET /no/such/page` (a 404 without a route),
   once as built and once with `MetricsMiddleware` taken out of its middleware list; the
   rounds alternate so a busy machine slows both alike. Printed: requests/s each way and the
   difference per request in microseconds.
2. Scrape: a multiprocess directory is filled with the files of N processes, each having
   recorded a realistic spread (40 routes x 3 statuses, every delivery outcome per channel,
   the jobs, the NLU intents); then /metrics' exposition of that directory is timed (the
   median of several), with its size and number of series.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Scope

from candor.settings import Settings


def _app(with_metrics: bool) -> ASGIApp:
    from api.app import create_app

    app = create_app(
        Settings(
            env="development", database_url="sqlite+aiosqlite:///:memory:", redis_url="memory://"
        )
    )
    if not with_metrics:
        app.user_middleware = [
            m for m in app.user_middleware if _name(m.cls) != "MetricsMiddleware"
        ]
    return app


def _name(cls: object) -> str:
    return str(getattr(cls, "__name__", ""))


async def _requests(app: ASGIApp, path: str, count: int) -> float:
    """Requests per second of `count` sequential ASGI calls."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    started = time.perf_counter()
    for _ in range(count):
        await app(dict(scope), receive, send)
    return count / (time.perf_counter() - started)


async def middleware(requests: int, rounds: int) -> None:
    import logging

    import structlog

    # The request log line would dominate both sides: measure the metrics, not the logging.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    apps: dict[bool, ASGIApp] = {True: _app(True), False: _app(False)}
    for path in ("/healthz", "/no/such/page"):
        rates: dict[bool, list[float]] = {True: [], False: []}
        for app in apps.values():
            await _requests(app, path, 500)  # warm-up: the middleware stack is built
        for _ in range(rounds):
            for flag, app in apps.items():
                rates[flag].append(await _requests(app, path, requests // rounds))
        with_rate = statistics.median(rates[True])
        without_rate = statistics.median(rates[False])
        overhead_us = (1 / with_rate - 1 / without_rate) * 1e6
        print(
            f"middleware {path:<15} without: {without_rate:8.0f} req/s   with: "
            f"{with_rate:8.0f} req/s   overhead: {overhead_us:5.1f} µs/request "
            f"({(1 - with_rate / without_rate) * 100:4.1f} %)"
        )


def _identifier(pid: int) -> Callable[[], str]:
    return lambda: f"bench-{pid}"


def _fill(directory: str, processes: int) -> None:
    from candor import metrics as m

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    for pid in range(1, processes + 1):
        # One process's files per made-up process: `metrics()` names its files by this.
        m.process_identifier = _identifier(pid)
        m.metrics.cache_clear()
        for route in range(40):
            for status in (200, 404, 503):
                m.observe_http("GET", f"/api/v1/route{route}/{{id}}", status, 0.01 * (route % 7))
        for channel in ("wechat", "telegram", "email", "sms", "web"):
            for queue in ("outbox", "chat", "sla"):
                m.delivered(queue, channel)
                for reason in ("http 503", "timeout", "http 429"):
                    m.retried(queue, channel, reason)
                m.failed(queue, channel, "http 400")
            m.fell_back(channel, "email")
            m.ambiguous_redelivery(channel)
        for intent in ("greet", "ask_feedback", "human_handoff", "complain", "affirm", "deny"):
            m.nlu_prediction("embedded", intent, fallback=False)
        m.nlu_prediction("embedded", None, fallback=True)
        m.handoff("asked")
        for job in ("sla_watch", "prune_ats_events", "prune_idempotency_keys"):
            m.observe_job(job, 0.2, ok=True)
        m.observe_wechat_ack(0.05)


def scrape(process_counts: list[int], repeats: int) -> None:
    from candor.metrics.scrape import _exposition

    for processes in process_counts:
        with tempfile.TemporaryDirectory() as directory:
            _fill(directory, processes)
            timings = []
            body = b""
            for _ in range(repeats):
                started = time.perf_counter()
                body = _exposition([])
                timings.append(time.perf_counter() - started)
            series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
            print(
                f"scrape {processes:3d} processes: "
                f"median {statistics.median(timings) * 1000:7.1f} ms"
                f"   max {max(timings) * 1000:7.1f} ms   {len(body) / 1024:6.0f} KiB"
                f"   {series} series"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--processes", default="1,4,8,16,32")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(middleware(args.requests, args.rounds))
    scrape([int(n) for n in args.processes.split(",")], args.repeats)


if __name__ == "__main__":
    main()
