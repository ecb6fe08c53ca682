"""Multiprocess set-up: one shared directory per host, its stale files cleared at start.

prometheus_client's multiprocess mode keeps each process's metrics in memory-mapped files
named `<kind>_<pid>.db` in PROMETHEUS_MULTIPROC_DIR, and a scrape sums them. So:
- every process of the host gets the same directory (`CANDOR_METRICS_DIR`, set here as
  PROMETHEUS_MULTIPROC_DIR before the first metric is built, and inherited by the processes
  `candor serve --workers N` spawns);
- the files of a process that is no longer running are removed when `candor serve` or
  `candor worker` starts (`clear_stale_files`), so a restart begins the counts afresh
  (Prometheus reads the drop as a counter reset) while a still-running worker's files stay;
- a process leaving cleanly marks itself dead, which drops its live-gauge files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from candor.logging import get_logger
from candor.metrics import multiprocess_dir
from candor.settings import Settings

log = get_logger(__name__)

_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def configure(settings: Settings) -> str | None:
    """Turn multiprocess mode on when a directory is configured (before any metric is
    built); returns the directory in use, or None for in-memory metrics."""
    directory = multiprocess_dir()
    if directory is None and settings.metrics_dir is not None:
        directory = str(settings.metrics_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    if directory is not None:
        Path(directory).mkdir(parents=True, exist_ok=True)
    return directory


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def clear_stale_files(directory: str | Path) -> int:
    """Remove the metric files of processes no longer running; returns how many went."""
    removed = 0
    for path in Path(directory).glob("*.db"):
        match = _FILE.match(path.name)
        if match is None or _running(int(match.group(1))):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("metrics.stale_files_cleared", directory=str(directory), files=removed)
    return removed


def prepare(settings: Settings) -> str | None:
    """At the start of `candor serve` (before uvicorn spawns its workers) and of `candor
    worker`: multiprocess mode on, the dead processes' files gone."""
    directory = configure(settings)
    if directory is not None:
        clear_stale_files(directory)
    return directory


def mark_dead() -> None:
    """This process is leaving: drop its live-gauge files (its counters stay in the sum)."""
    directory = multiprocess_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]
