"""Idempotency-Key claims: taking over an abandoned claim, and forgetting old keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from candor import idempotency
from candor.clock import utcnow
from candor.idempotency import ABANDONED_AFTER, IdempotencyConflictError, StoredAnswer
from candor.models import IdempotencyKey
from candor.runtime import Runtime
from candor.worker import DEFAULT_JOBS, PruneIdempotencyKeys, run_job_once

PRINCIPAL = "token:test-hr"
FINGERPRINT = idempotency.request_fingerprint("POST", "/api/v1/things", {"a": 1})


def _key(key: str, *, age: timedelta, in_flight: bool) -> IdempotencyKey:
    return IdempotencyKey(
        principal=PRINCIPAL,
        key=key,
        request_sha256=FINGERPRINT,
        in_flight=in_flight,
        response_status=None if in_flight else 201,
        response_body=None if in_flight else {"id": 1},
        created_at=utcnow() - age,
    )


async def _claim(runtime: Runtime, key: str) -> StoredAnswer | None:
    async with runtime.transaction() as session:
        return await idempotency.claim(
            session, principal=PRINCIPAL, key=key, fingerprint=FINGERPRINT
        )


async def test_a_retry_takes_over_an_abandoned_claim_but_not_a_live_one(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        session.add(_key("abandoned", age=ABANDONED_AFTER + timedelta(minutes=1), in_flight=True))
        session.add(_key("live", age=ABANDONED_AFTER - timedelta(minutes=1), in_flight=True))

    assert await _claim(runtime, "abandoned") is None
    with pytest.raises(IdempotencyConflictError, match="in flight"):
        await _claim(runtime, "live")
    with pytest.raises(IdempotencyConflictError, match="in flight"):
        await _claim(runtime, "abandoned")  # now renewed by the first retry


async def test_two_retries_racing_for_an_abandoned_claim_have_one_winner(
    runtime: Runtime,
) -> None:
    async with runtime.transaction() as session:
        session.add(_key("k", age=ABANDONED_AFTER + timedelta(minutes=1), in_flight=True))

    async with runtime.sessionmaker() as first, runtime.sessionmaker() as second:
        won = await idempotency.claim(first, principal=PRINCIPAL, key="k", fingerprint=FINGERPRINT)
        assert won is None
        # The second retry starts before the first commits: on PostgreSQL it reads the
        # claim as still abandoned and waits on the row lock; on SQLite it waits for the
        # single writer. Either way it must lose once the first commits.
        racing = asyncio.create_task(
            idempotency.claim(second, principal=PRINCIPAL, key="k", fingerprint=FINGERPRINT)
        )
        await asyncio.sleep(0.3)
        assert not racing.done()
        await first.commit()
        with pytest.raises(IdempotencyConflictError, match="in flight"):
            await racing
        await second.rollback()

    async with runtime.sessionmaker() as session:
        claims = (await session.scalars(select(IdempotencyKey))).all()
    assert [(c.key, c.in_flight) for c in claims] == [("k", True)]
    assert utcnow() - claims[0].created_at < ABANDONED_AFTER


async def test_pruning_forgets_old_keys_and_keeps_fresh_and_in_flight_ones(
    runtime: Runtime,
) -> None:
    retention = timedelta(minutes=1)  # shorter than ABANDONED_AFTER, to tell the cases apart
    async with runtime.transaction() as session:
        session.add_all(
            [
                _key("old-answered", age=timedelta(minutes=2), in_flight=False),
                _key("fresh-answered", age=timedelta(seconds=10), in_flight=False),
                _key("old-in-flight", age=timedelta(minutes=2), in_flight=True),
                _key("abandoned", age=ABANDONED_AFTER + timedelta(minutes=1), in_flight=True),
            ]
        )

    async with runtime.transaction() as session:
        pruned = await idempotency.prune(session, retention=retention, now=utcnow())

    assert pruned == 2
    async with runtime.sessionmaker() as session:
        kept = set((await session.scalars(select(IdempotencyKey.key))).all())
    assert kept == {"fresh-answered", "old-in-flight"}


async def test_the_worker_prunes_keys_past_the_configured_retention(runtime: Runtime) -> None:
    days = runtime.settings.idempotency_key_retention_days
    assert days == 7
    async with runtime.transaction() as session:
        session.add(_key("old", age=timedelta(days=days, minutes=1), in_flight=False))
        session.add(_key("recent", age=timedelta(days=days, minutes=-1), in_flight=False))

    assert any(isinstance(job, PruneIdempotencyKeys) for job in DEFAULT_JOBS)
    assert await run_job_once(runtime, PruneIdempotencyKeys()) == 1
    async with runtime.sessionmaker() as session:
        assert (await session.scalars(select(IdempotencyKey.key))).all() == ["recent"]
