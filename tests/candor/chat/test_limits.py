"""Chat rate limits in Redis (fakeredis embedded, real Redis scaled), on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from candor.chat import limits
from candor.chat.limits import Limit
from candor.redis import create_redis
from candor.runtime import Runtime

NOW = datetime(2026, 3, 6, 10, 0, 20, tzinfo=UTC)
PER_MINUTE = Limit("test_minute", 3, timedelta(minutes=1))
OVERALL = Limit("test_overall", 4, timedelta(minutes=1))


async def test_a_subject_is_refused_past_its_limit_until_the_window_ends(runtime: Runtime) -> None:
    redis = runtime.redis
    for _ in range(PER_MINUTE.limit):
        assert await limits.hit(redis, (PER_MINUTE, "a"), now=NOW) is None

    refused = await limits.hit(redis, (PER_MINUTE, "a"), now=NOW)

    assert refused is not None
    assert refused.limit is PER_MINUTE
    assert refused.retry_after_seconds == 40  # the window ends at 10:01:00
    assert refused.retry_after_minutes == 1
    assert await limits.hit(redis, (PER_MINUTE, "b"), now=NOW) is None  # others unaffected
    next_window = NOW + timedelta(seconds=40)
    assert await limits.hit(redis, (PER_MINUTE, "a"), now=next_window) is None


async def test_a_refused_client_does_not_spend_the_overall_budget(runtime: Runtime) -> None:
    redis = runtime.redis
    for _ in range(PER_MINUTE.limit + 5):
        await limits.hit(redis, (PER_MINUTE, "flood"), (OVERALL, limits.OVERALL), now=NOW)

    # The flood spent 3 of the overall 4; one more client fits, the next does not.
    assert await limits.hit(redis, (PER_MINUTE, "b"), (OVERALL, limits.OVERALL), now=NOW) is None
    refused = await limits.hit(redis, (PER_MINUTE, "c"), (OVERALL, limits.OVERALL), now=NOW)
    assert refused is not None
    assert refused.limit is OVERALL


async def test_counts_are_shared_by_every_process_on_one_redis(runtime: Runtime) -> None:
    if runtime.settings.uses_embedded_redis:
        pytest.skip("an in-process Redis has one process by definition")
    other = create_redis(runtime.settings)  # another API process's client
    try:
        assert await limits.count(runtime.redis, PER_MINUTE, "a", now=NOW) == 1
        assert await limits.count(other, PER_MINUTE, "a", now=NOW) == 2
    finally:
        await other.aclose()


def test_subjects_hide_what_they_count() -> None:
    who = limits.subject("web", "10.1.2.3")
    assert "10.1.2.3" not in who
    assert who == limits.subject("web", "10.1.2.3")
    assert who != limits.subject("web", "10.1.2.4")
