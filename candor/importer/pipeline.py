"""One import, start to finish: read, check and write a file in one transaction.

Reading and writing overlap. A thread parses and validates the file while the event loop
checks and writes the previous batch, so the database works while Python parses instead of
waiting for it. The all-or-nothing rule still holds: every batch goes into the same
transaction, and once an invalid row turns up (without --skip-invalid) nothing more is
written, the rest of the file is only checked so that every problem is reported, and the
transaction is rolled back.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from candor.ats.schemas import StrictModel
from candor.importer import service
from candor.importer.reader import InvalidRow, Parsed, detect_kind, iter_rows
from candor.importer.rows import Kind
from candor.runtime import Runtime

T = TypeVar("T")

# Batches parsed ahead of the writer: enough to keep both sides busy, few enough to keep a
# million-row file out of memory.
_READ_AHEAD = 4


@dataclass(slots=True)
class ImportReport:
    kind: Kind
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    written: bool = False
    elapsed: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0


class _RollbackError(Exception):
    """Leaves the transaction by rolling back, after the checks found invalid rows."""


async def import_file(
    runtime: Runtime,
    path: Path,
    *,
    kind: str | None = None,
    skip_invalid: bool = False,
    encoding: str = "utf-8-sig",
    console: Console | None = None,
) -> ImportReport:
    """Import `path`, committing once at the end, or not at all if a row is invalid and
    `skip_invalid` is off. Raises ImportFileError when the file as a whole cannot be imported
    (nothing is written then either)."""
    started = time.perf_counter()
    report = ImportReport(kind=detect_kind(path, kind))
    size = (await asyncio.to_thread(path.stat)).st_size
    with _cyclic_gc_paused(), _progress(console or Console(stderr=True)) as progress:
        task = progress.add_task(f"importing {path.name}", total=size, written=0)
        rows = iter_rows(
            path,
            report.kind,
            encoding=encoding,
            on_progress=lambda chunk: progress.advance(task, chunk),
        )
        try:
            async with (
                runtime.transaction() as session,
                aclosing(_in_background(rows, service.BATCH_SIZE)) as batches,
            ):
                async for batch in batches:
                    report.rows_read += len(batch)
                    valid: list[Parsed[StrictModel]] = []
                    for item in batch:
                        if isinstance(item, InvalidRow):
                            report.invalid.append(item)
                        else:
                            valid.append(item)
                    plan = await service.plan_import(session, report.kind, valid)
                    report.invalid.extend(plan.invalid)
                    if report.invalid and not skip_invalid:
                        continue
                    counts = await service.apply_import(session, plan, source=f"import:{path.name}")
                    report.inserted += counts.inserted
                    report.updated += counts.updated
                    progress.update(task, written=report.inserted + report.updated)
                if report.invalid and not skip_invalid:
                    raise _RollbackError
        except _RollbackError:
            report.inserted = report.updated = 0
        else:
            report.written = True
    report.invalid.sort()
    report.elapsed = time.perf_counter() - started
    return report


async def _in_background(items: Iterator[T], size: int) -> AsyncGenerator[list[T], None]:
    """`items` in lists of `size`, produced by a worker thread up to `_READ_AHEAD` ahead.

    An exception from `items` is raised here; leaving the loop early stops the thread.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[T] | BaseException | None] = asyncio.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()

    def put(item: list[T] | BaseException | None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def produce() -> None:
        batch: list[T] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) == size:
                    if stop.is_set():
                        return
                    put(batch)
                    batch = []
            if batch:
                put(batch)
            put(None)
        except Exception as exc:  # handed to the consumer, which raises it
            put(exc)

    producer = loop.run_in_executor(None, produce)
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Make room for a producer blocked on a full queue, so that it sees `stop`.
        while not producer.done():
            while not queue.empty():
                queue.get_nowait()
            await asyncio.sleep(0.01)
        await producer


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """An import allocates millions of objects and almost no reference cycles, so the cyclic
    collector only rescans live rows again and again (a fifth of the CPU time, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[written]:,} rows written"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # A log file or CI output gets the summary, not a stream of redraws.
        disable=not console.is_terminal,
    )
    with progress:
        yield progress
