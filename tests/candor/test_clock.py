from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from candor.clock import BUSINESS_TZ, clock_at, utcnow


def test_clock_at_sets_utcnow_in_its_block_only_and_nests() -> None:
    moment = datetime(2026, 1, 5, 9, 30, tzinfo=BUSINESS_TZ)
    later = moment + timedelta(days=3)

    with clock_at(moment):
        assert utcnow() == moment
        assert utcnow().tzinfo is UTC
        with clock_at(later):
            assert utcnow() == later
        assert utcnow() == moment
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


async def test_clock_at_is_per_task() -> None:
    moment = datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=8)))
    seen: list[datetime] = []

    async def elsewhere() -> None:
        seen.append(utcnow())

    with clock_at(moment):
        other = asyncio.get_running_loop().create_task(elsewhere())
        await other
    # A task started inside the block copies the context; one started outside does not.
    assert seen == [moment]
    outside = asyncio.get_running_loop().create_task(elsewhere())
    await outside
    assert seen[1] > moment + timedelta(days=300)


def test_clock_at_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), clock_at(datetime(2026, 1, 5, 9, 30)):
        pass
