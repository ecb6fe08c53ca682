"""What /metrics serves: the event metrics (this process's, or every process's of the host
in multiprocess mode) and the gauges read at scrape time from the database and Redis.

Each reading runs under `metrics_scrape_timeout_seconds`; one that fails or times out is left
out of the answer and counted in `candor_metrics_scrape_errors_total{source}`, so a scrape
never hangs or fails because the database or Redis is down: it says what it could read. A
metric file that cannot be read (gone since the listing, or truncated) is likewise left out
and counted (`source="files"`).
"""

from __future__ import annotations

import asyncio
import glob
import os
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from candor.clock import utcnow
from candor.logging import get_logger
from candor.metrics import PREFIX, metrics, multiprocess_dir, process_identifier, scrape_error
from candor.metrics.heartbeat import alive
from candor.models.enums import Channel
from candor.models.outreach import MessageState, OutboxItem, OutboxState, OutreachMessage
from candor.outreach.sla_watch import sla_totals
from candor.runtime import Runtime

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class DatabaseReading:
    backlog: dict[str, int] = field(default_factory=dict)
    oldest_age: dict[str, float] = field(default_factory=dict)
    drafts_awaiting_approval: int = 0
    sla_at_risk: int = 0
    sla_breached: int = 0


@dataclass(slots=True)
class RedisReading:
    roundtrip_seconds: float
    workers_alive: int


async def read_database(runtime: Runtime, *, now: datetime) -> DatabaseReading:
    """One cheap query each: the outbox by channel, the drafts, the SLA counts."""
    reading = DatabaseReading(
        backlog={channel.value: 0 for channel in Channel},
        oldest_age={channel.value: 0.0 for channel in Channel},
    )
    due = (OutboxItem.state == OutboxState.PENDING) & (OutboxItem.next_attempt_at <= now)
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(
                OutboxItem.channel,
                func.count(),
                func.min(case((due, OutboxItem.next_attempt_at), else_=None)),
            )
            .where(OutboxItem.state.in_((OutboxState.PENDING, OutboxState.IN_FLIGHT)))
            .group_by(OutboxItem.channel)
        )
        for channel, count, oldest_due in rows.all():
            reading.backlog[channel.value] = int(count)
            if oldest_due is not None:
                reading.oldest_age[channel.value] = max(0.0, (now - oldest_due).total_seconds())
        reading.drafts_awaiting_approval = int(
            await session.scalar(
                select(func.count())
                .select_from(OutreachMessage)
                .where(OutreachMessage.state == MessageState.PENDING_APPROVAL)
            )
            or 0
        )
        reading.sla_at_risk, reading.sla_breached = await sla_totals(session, now=now)
    return reading


async def read_redis(runtime: Runtime) -> RedisReading:
    started = time.perf_counter()
    await runtime.redis.ping()
    roundtrip = time.perf_counter() - started
    return RedisReading(roundtrip_seconds=roundtrip, workers_alive=await alive(runtime.redis))


async def _bounded(source: str, limit: float, read: Callable[[], Awaitable[T]]) -> T | None:
    try:
        return await asyncio.wait_for(read(), timeout=limit)
    except Exception as exc:
        scrape_error(source)
        log.warning("metrics.scrape_reading_failed", source=source, error=repr(exc))
        return None


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))


def pool_families(runtime: Runtime) -> list[Metric]:
    """This process's database pool (a pool without these counts, SQLite's, reports none)."""
    pool: Any = runtime.engine.pool
    try:
        size, checked_out, idle, overflow = (
            int(pool.size()),
            int(pool.checkedout()),
            int(pool.checkedin()),
            max(0, int(pool.overflow())),
        )
    except AttributeError:
        return []
    connections = _gauge(
        "db_pool_connections", "This process's database connections by state.", ["state"]
    )
    connections.add_metric(["checked_out"], checked_out)
    connections.add_metric(["idle"], idle)
    connections.add_metric(["overflow"], overflow)
    pool_size = _gauge("db_pool_size", "This process's configured database pool size.")
    pool_size.add_metric([], size)
    return [connections, pool_size]


def database_families(reading: DatabaseReading) -> list[Metric]:
    backlog = _gauge("outbox_backlog", "Messages queued and not yet sent.", ["channel"])
    oldest = _gauge(
        "outbox_oldest_age_seconds",
        "How long the oldest message due and not yet sent has been due.",
        ["channel"],
    )
    for channel, count in sorted(reading.backlog.items()):
        backlog.add_metric([channel], count)
        oldest.add_metric([channel], reading.oldest_age.get(channel, 0.0))
    drafts = _gauge("drafts_awaiting_approval", "Drafts waiting for HR approval.")
    drafts.add_metric([], reading.drafts_awaiting_approval)
    sla = _gauge("sla_items", "Open feedback deadlines at risk or breached.", ["state"])
    sla.add_metric(["at_risk"], reading.sla_at_risk)
    sla.add_metric(["breached"], reading.sla_breached)
    return [backlog, oldest, drafts, sla]


def redis_families(reading: RedisReading) -> list[Metric]:
    roundtrip = _gauge("redis_roundtrip_seconds", "A Redis PING's round trip at scrape time.")
    roundtrip.add_metric([], reading.roundtrip_seconds)
    workers = _gauge("workers_alive", "Worker processes with a heartbeat under 60 s old.")
    workers.add_metric([], reading.workers_alive)
    return [roundtrip, workers]


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def scrape_families(runtime: Runtime) -> list[Metric]:
    """The scrape-time gauges, the database and Redis read concurrently."""
    timeout = runtime.settings.metrics_scrape_timeout_seconds
    database, redis = await asyncio.gather(
        _bounded("database", timeout, lambda: read_database(runtime, now=utcnow())),
        _bounded("redis", timeout, lambda: read_redis(runtime)),
    )
    families = pool_families(runtime)
    if database is not None:
        families += database_families(database)
    if redis is not None:
        families += redis_families(redis)
    return families


def _read_files(paths: list[str], into: dict[str, Metric]) -> int:
    """Add each file's samples to `into`; returns how many files could not be read."""
    from prometheus_client.multiprocess import MultiProcessCollector

    try:
        # All at once first: one call parses each series' key once for every file (file by
        # file, a scrape of 32 processes' files took 3-4 times as long).
        _merge(MultiProcessCollector._read_metrics(paths), into)  # type: ignore[no-untyped-call]
        return 0
    except (OSError, ValueError, struct.error):
        pass
    unreadable = 0
    for path in paths:
        try:
            read = MultiProcessCollector._read_metrics([path])  # type: ignore[no-untyped-call]
        except (OSError, ValueError, struct.error) as exc:
            # Gone since the glob, or empty/truncated (a process killed while creating it).
            unreadable += 1
            log.warning("metrics.file_unreadable", file=os.path.basename(path), error=repr(exc))
            continue
        _merge(read, into)
    return unreadable


def _merge(read: dict[str, Metric], into: dict[str, Metric]) -> None:
    for name, metric in read.items():
        if name in into:
            into[name].samples.extend(metric.samples)
        else:
            into[name] = metric


class _Files(Collector):
    """The host's processes' files summed, as prometheus_client's MultiProcessCollector does,
    except that a file which cannot be read is left out (and counted) instead of failing the
    whole scrape."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        own = f"_{process_identifier()}.db"
        paths = glob.glob(os.path.join(self.directory, "*.db"))
        read: dict[str, Metric] = {}
        unreadable = _read_files([p for p in paths if not p.endswith(own)], read)
        if unreadable:
            scrape_error("files", unreadable)
        # This process's files last, so the count just made is in this answer.
        unreadable = _read_files(glob.glob(os.path.join(self.directory, f"*{own}")), read)
        if unreadable:
            scrape_error("files", unreadable)
        yield from MultiProcessCollector._accumulate_metrics(read, True)  # type: ignore[no-untyped-call]


def _exposition(families: list[Metric]) -> bytes:
    directory = multiprocess_dir()
    if directory is None:
        registry = metrics().registry
        return generate_latest(registry) + generate_latest(_single(_Fixed(families)))
    registry = CollectorRegistry()
    registry.register(_Files(directory))
    registry.register(_Fixed(families))
    return generate_latest(registry)


def _single(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


async def render(runtime: Runtime) -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    metrics()  # built before the scrape counts its own errors into it
    families = await scrape_families(runtime)
    # Reading every process's files is file I/O: off the event loop.
    body = await asyncio.to_thread(_exposition, families)
    return body, CONTENT_TYPE_LATEST
