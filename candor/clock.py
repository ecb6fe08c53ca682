"""Time in one place: UTC for storage, China's business time zone for people and calendars.

`utcnow()` is every service's clock. `clock_at(moment)` makes it answer a fixed moment in the
current context (task), so that a history can be written through the real services as it
happened: the demo seeds six months of a company that way. Nothing else sets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")

_frozen: ContextVar[datetime | None] = ContextVar("candor_clock_frozen_at", default=None)


def utcnow() -> datetime:
    frozen = _frozen.get()
    return datetime.now(UTC) if frozen is None else frozen


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """`utcnow()` answers `moment` (timezone-aware, returned in UTC) inside the block."""
    if moment.tzinfo is None:
        raise ValueError("clock_at needs a timezone-aware moment")
    token = _frozen.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _frozen.reset(token)
