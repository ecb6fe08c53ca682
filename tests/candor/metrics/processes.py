"""Process ids for the metric-file tests."""

from __future__ import annotations

import os


def dead_pid() -> int:
    """A process id that no running process has, for a file left by a process that exited."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1
