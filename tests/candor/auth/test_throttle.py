"""Login throttling counters in Redis (fakeredis embedded, real Redis scaled)."""

from __future__ import annotations

from candor.auth import throttle
from candor.runtime import Runtime


async def test_an_account_locks_after_repeated_failures(runtime: Runtime) -> None:
    redis = runtime.redis
    for _ in range(throttle.USER_FAILURES_TO_LOCK - 1):
        assert await throttle.record_failure(redis, email="A@x.cn", address="10.0.0.1") is None

    locked = await throttle.record_failure(redis, email="a@x.cn ", address="10.0.0.2")

    assert locked is not None
    assert locked.reason == "account_locked"
    refused = await throttle.check(redis, email="a@X.cn", address="10.0.0.3")
    assert refused is not None
    assert refused.reason == "account_locked"
    assert await throttle.check(redis, email="b@x.cn", address="10.0.0.3") is None


async def test_a_success_forgets_earlier_failures(runtime: Runtime) -> None:
    redis = runtime.redis
    for _ in range(throttle.USER_FAILURES_TO_LOCK - 1):
        await throttle.record_failure(redis, email="a@x.cn", address="10.0.0.1")
    await throttle.record_success(redis, email="a@x.cn")

    assert await throttle.record_failure(redis, email="a@x.cn", address="10.0.0.1") is None


async def test_an_address_spraying_many_accounts_locks(runtime: Runtime) -> None:
    redis = runtime.redis
    results = [
        await throttle.record_failure(redis, email=f"u{n}@x.cn", address="10.9.9.9")
        for n in range(throttle.ADDRESS_FAILURES_TO_LOCK)
    ]

    assert results[-1] is not None
    assert results[-1].reason == "address_locked"
    refused = await throttle.check(redis, email="fresh@x.cn", address="10.9.9.9")
    assert refused is not None
    assert refused.reason == "address_locked"


async def test_attempts_per_address_are_rate_limited(runtime: Runtime) -> None:
    redis = runtime.redis
    for n in range(throttle.ATTEMPTS_PER_MINUTE):
        assert await throttle.check(redis, email=f"u{n}@x.cn", address="10.1.1.1") is None

    limited = await throttle.check(redis, email="u@x.cn", address="10.1.1.1")

    assert limited is not None
    assert limited.reason == "rate_limited"
    assert 0 < limited.retry_after_seconds <= 60


async def test_an_admin_sees_and_clears_an_accounts_lock_out(runtime: Runtime) -> None:
    redis = runtime.redis
    for _ in range(throttle.USER_FAILURES_TO_LOCK):
        await throttle.record_failure(redis, email="a@x.cn", address="10.0.0.1")
    await throttle.record_failure(redis, email="b@x.cn", address="10.0.0.1")

    locked = await throttle.account_lockouts(redis, ["a@x.cn", "b@x.cn"])
    assert list(locked) == ["a@x.cn"]
    assert 0 < locked["a@x.cn"] <= throttle.LOCKOUT.total_seconds()

    assert await throttle.clear_account(redis, email="A@x.cn") is True

    assert await throttle.account_lockouts(redis, ["a@x.cn"]) == {}
    assert await throttle.check(redis, email="a@x.cn", address="10.0.0.1") is None
    # Its failures were forgotten too: one more is not a new lock-out.
    assert await throttle.record_failure(redis, email="a@x.cn", address="10.0.0.1") is None
    assert await throttle.clear_account(redis, email="a@x.cn") is False
