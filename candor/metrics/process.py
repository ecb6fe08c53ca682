"""Multiprocess set-up: one shared directory per host, cleared only when nobody uses it.

prometheus_client's multiprocess mode keeps each process's metrics in memory-mapped files in
PROMETHEUS_MULTIPROC_DIR, and a scrape sums them. So:
- every process of the host gets the same directory (`CANDOR_METRICS_DIR`, set here as
  PROMETHEUS_MULTIPROC_DIR before the first metric is built, and inherited by the processes
  `candor serve --workers N` spawns);
- the files are named `<kind>_<host>-<pid>.db` (`candor.metrics.process_identifier`), so
  containers sharing one volume, each running Candor as PID 1, do not write the same files;
- `candor serve` clears the directory at start only when none of its files belongs to a
  running process of this host or to another host (`clear_if_unused`): a dead process's
  counters otherwise stay in the sums, so a restart of one process never makes the host's
  counters go backwards. `candor worker` clears nothing. The deployments start the directory
  empty after a full stop (a tmpfs volume; systemd's RuntimeDirectory=);
- a process leaving cleanly drops its own live-gauge files (`mark_dead`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from candor.logging import get_logger
from candor.metrics import host_name, multiprocess_dir, process_identifier
from candor.settings import Settings

log = get_logger(__name__)

# `<kind>_<host>-<pid>.db`; kinds are `counter`, `histogram`, `summary`, `gauge_<mode>`,
# and the host name has no `_` (`host_name`).
_FILE = re.compile(r"^[a-z]+(?:_[a-z]+)?_(?P<host>[A-Za-z0-9.-]+)-(?P<pid>\d+)\.db$")


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


def clear_if_unused(directory: str | Path) -> int:
    """Remove every metric file when no process can still be writing to the directory: none
    of its files belongs to a running process of this host, nor to another host (whose
    processes this host cannot see), nor has a name this scheme does not know. Otherwise
    remove nothing: a dead process's counters must stay in the host's sums, or the counters
    would go backwards while others run. Returns how many files went."""
    files = list(Path(directory).glob("*.db"))
    here = host_name()
    for path in files:
        match = _FILE.match(path.name)
        if match is None or match["host"] != here or _running(int(match["pid"])):
            return 0
    for path in files:
        path.unlink(missing_ok=True)
    if files:
        log.info("metrics.unused_files_cleared", directory=str(directory), files=len(files))
    return len(files)


def prepare(settings: Settings) -> str | None:
    """At the start of `candor serve` (before uvicorn spawns its workers): multiprocess mode
    on, and a directory nobody uses any more emptied."""
    directory = configure(settings)
    if directory is not None:
        clear_if_unused(directory)
    return directory


def mark_dead() -> None:
    """This process is leaving: drop its live-gauge files (its counters stay in the sum).
    prometheus_client's `mark_process_dead` knows only PID-named files."""
    directory = multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob(f"gauge_live*_{process_identifier()}.db"):
        path.unlink(missing_ok=True)
