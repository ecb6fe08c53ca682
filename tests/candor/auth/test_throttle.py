"""Login throttling in Redis (fakeredis embedded, real Redis scaled): progressive delays per
(account, address), address and account, and known devices exempt from the last."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from candor.auth import throttle
from candor.auth.throttle import Attempt, Scope, Throttled
from candor.runtime import Runtime

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER = "hr@x.cn"
ATTACKER = "203.0.113.66"
HOME = "10.0.0.7"


def _secret(runtime: Runtime) -> str:
    return runtime.settings.secret_key.get_secret_value()


async def attempt(
    runtime: Runtime,
    *,
    email: str = USER,
    address: str = ATTACKER,
    at: datetime = T0,
    device: str | None = None,
) -> Attempt | Throttled:
    return await throttle.begin(
        runtime.redis,
        email=email,
        address=address,
        device_cookie=device,
        secret=_secret(runtime),
        now=at,
    )


async def wrong_password(
    runtime: Runtime,
    *,
    email: str = USER,
    address: str = ATTACKER,
    at: datetime = T0,
    device: str | None = None,
) -> Attempt | Throttled:
    """An attempt whose password turns out wrong; what `begin` said about it."""
    started = await attempt(runtime, email=email, address=address, at=at, device=device)
    if isinstance(started, Attempt):
        await throttle.failed(runtime.redis, started)
    return started


async def right_password(
    runtime: Runtime,
    *,
    email: str = USER,
    address: str = HOME,
    at: datetime = T0,
    device: str | None = None,
) -> str:
    """A successful login; returns the browser's device cookie."""
    started = await attempt(runtime, email=email, address=address, at=at, device=device)
    assert isinstance(started, Attempt), started
    return await throttle.succeeded(runtime.redis, started, email=email, secret=_secret(runtime))


def refused(result: Attempt | Throttled) -> Throttled:
    assert isinstance(result, Throttled), "the attempt was let through"
    return result


async def test_fifty_wrong_passwords_do_not_slow_the_user_on_their_known_device(
    runtime: Runtime,
) -> None:
    cookie = await right_password(runtime)
    answers = [
        await wrong_password(runtime, address=f"203.0.113.{n % 7}", at=T0 + timedelta(seconds=n))
        for n in range(50)
    ]
    assert any(isinstance(a, Throttled) for a in answers)
    assert refused(await attempt(runtime, address="198.51.100.1")).scope is Scope.ACCOUNT

    known = await attempt(runtime, address=HOME, at=T0 + timedelta(minutes=1), device=cookie)

    assert isinstance(known, Attempt)
    assert known.trusted


async def test_an_address_is_slowed_down_progressively_and_its_delays_expire(
    runtime: Runtime,
) -> None:
    for n in range(throttle.PAIR_FAILURES_BEFORE_DELAY):
        assert isinstance(await wrong_password(runtime, at=T0 + timedelta(seconds=n)), Attempt)
    now = T0 + timedelta(seconds=throttle.PAIR_FAILURES_BEFORE_DELAY - 1)
    waits = []
    for _ in range(6):
        waiting = refused(await attempt(runtime, at=now))
        assert waiting.scope is Scope.PAIR
        waits.append(waiting.retry_after_seconds)
        # Refused attempts are not counted: asking again does not lengthen the wait.
        again = refused(await attempt(runtime, at=now + timedelta(seconds=1)))
        assert again.retry_after_seconds == waiting.retry_after_seconds - 1
        still = refused(
            await attempt(runtime, at=now + timedelta(seconds=waiting.retry_after_seconds - 1))
        )
        assert still.retry_after_seconds == 1
        now += timedelta(seconds=waiting.retry_after_seconds)
        assert isinstance(await wrong_password(runtime, at=now), Attempt)

    assert waits == [60, 120, 240, 480, 900, 900]
    # Another account from the same address goes on (this one from elsewhere waits too by
    # now, its 11 failures being past the account's threshold).
    assert isinstance(await attempt(runtime, email="other@x.cn", at=now), Attempt)


async def test_failures_are_forgotten_a_quiet_day_after_the_last(runtime: Runtime) -> None:
    for _ in range(throttle.PAIR_FAILURES_BEFORE_DELAY):
        await wrong_password(runtime)
    assert refused(await attempt(runtime, at=T0 + timedelta(seconds=30))).scope is Scope.PAIR

    later = T0 + throttle.FAILURE_MEMORY + timedelta(minutes=2)
    for n in range(throttle.PAIR_FAILURES_BEFORE_DELAY - 1):
        assert isinstance(await wrong_password(runtime, at=later + timedelta(seconds=n)), Attempt)

    # Four failures into a fresh count: not delayed yet.
    assert isinstance(await attempt(runtime, at=later + timedelta(seconds=10)), Attempt)


async def test_a_success_forgets_the_pairs_failures(runtime: Runtime) -> None:
    for _ in range(throttle.PAIR_FAILURES_BEFORE_DELAY - 1):
        await wrong_password(runtime, address=HOME)
    await right_password(runtime, address=HOME)

    for _ in range(throttle.PAIR_FAILURES_BEFORE_DELAY - 1):
        await wrong_password(runtime, address=HOME)

    assert isinstance(await attempt(runtime, address=HOME), Attempt)


async def test_many_addresses_against_one_account_slow_untrusted_browsers_only(
    runtime: Runtime,
) -> None:
    cookie = await right_password(runtime)
    for n in range(throttle.ACCOUNT_FAILURES_BEFORE_DELAY):
        assert isinstance(await wrong_password(runtime, address=f"198.51.100.{n}"), Attempt)

    fresh_browser = refused(await attempt(runtime, address=HOME))

    assert fresh_browser.scope is Scope.ACCOUNT
    assert fresh_browser.retry_after_seconds == 60
    assert isinstance(await attempt(runtime, address=HOME, device=cookie), Attempt)
    assert isinstance(await attempt(runtime, email="other@x.cn", address="198.51.100.1"), Attempt)
    assert isinstance(await attempt(runtime, address=HOME, at=T0 + timedelta(minutes=1)), Attempt)


async def test_one_address_trying_many_accounts_is_slowed_down(runtime: Runtime) -> None:
    for n in range(throttle.ADDRESS_FAILURES_BEFORE_DELAY):
        at = T0 + timedelta(seconds=3 * n)  # 20 a minute: just within the per-minute rate
        assert isinstance(await wrong_password(runtime, email=f"u{n}@x.cn", at=at), Attempt)

    spraying = refused(await attempt(runtime, email="fresh@x.cn", at=T0 + timedelta(minutes=2)))

    assert spraying.scope is Scope.ADDRESS
    assert isinstance(await attempt(runtime, email="fresh@x.cn", address=HOME), Attempt)


async def test_attempts_per_address_are_rate_limited(runtime: Runtime) -> None:
    for n in range(throttle.ATTEMPTS_PER_MINUTE):
        assert isinstance(await attempt(runtime, email=f"u{n}@x.cn", address="10.1.1.1"), Attempt)

    limited = refused(await attempt(runtime, email="u@x.cn", address="10.1.1.1"))

    assert limited.scope is Scope.RATE
    assert limited.retry_after_seconds == 60
    after_a_minute = T0 + timedelta(minutes=1)
    assert isinstance(await attempt(runtime, address="10.1.1.1", at=after_a_minute), Attempt)


async def test_a_burst_of_parallel_guesses_is_counted_before_any_password_is_checked(
    runtime: Runtime,
) -> None:
    answers = await asyncio.gather(
        *(attempt(runtime, address=f"198.51.100.{n}") for n in range(40))
    )

    let_through = [a for a in answers if isinstance(a, Attempt)]
    assert len(let_through) == throttle.ACCOUNT_FAILURES_BEFORE_DELAY


async def test_the_device_cookie_is_signed_and_bound_to_its_account(runtime: Runtime) -> None:
    cookie = await right_password(runtime)
    other_cookie = await right_password(runtime, email="other@x.cn")
    for n in range(throttle.ACCOUNT_FAILURES_BEFORE_DELAY):
        await wrong_password(runtime, address=f"198.51.100.{n}")
    nonce, signature = cookie.split(".")
    tampered = [
        f"{nonce}x.{signature}",
        f"{nonce}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        other_cookie,  # valid, for another account
        nonce,
        "",
    ]

    for forged in tampered:
        assert refused(await attempt(runtime, address=HOME, device=forged)).scope is Scope.ACCOUNT
    assert isinstance(await attempt(runtime, address=HOME, device=cookie), Attempt)


async def test_a_known_device_is_revoked_after_repeated_failures(runtime: Runtime) -> None:
    cookie = await right_password(runtime)
    revoked = []
    for _ in range(throttle.DEVICE_FAILURES_TO_REVOKE):
        started = await attempt(runtime, address=HOME, device=cookie)
        assert isinstance(started, Attempt)
        assert started.trusted
        revoked.append(await throttle.failed(runtime.redis, started))

    assert revoked == [False] * (throttle.DEVICE_FAILURES_TO_REVOKE - 1) + [True]
    # Counted against the device alone: neither the account nor the address waits.
    assert await throttle.account_delays(runtime.redis, [USER], now=T0) == {}
    untrusted = await attempt(runtime, address=HOME, device=cookie)
    assert isinstance(untrusted, Attempt)
    assert not untrusted.trusted


async def test_a_success_on_a_known_device_forgets_its_failures(runtime: Runtime) -> None:
    cookie = await right_password(runtime)
    for _ in range(throttle.DEVICE_FAILURES_TO_REVOKE - 1):
        await wrong_password(runtime, address=HOME, device=cookie)
    renewed = await right_password(runtime, device=cookie)

    for _ in range(throttle.DEVICE_FAILURES_TO_REVOKE - 1):
        await wrong_password(runtime, address=HOME, device=renewed)

    known = await attempt(runtime, address=HOME, device=renewed)
    assert isinstance(known, Attempt)
    assert known.trusted
    # The old cookie was replaced by the renewed one.
    replaced = await attempt(runtime, address=HOME, device=cookie)
    assert isinstance(replaced, Attempt)
    assert not replaced.trusted


async def _delayed(redis: Redis, email: str) -> dict[str, int]:
    return await throttle.account_delays(redis, [email, "b@x.cn"], now=T0)


async def test_an_admin_sees_and_clears_an_accounts_delay(runtime: Runtime) -> None:
    redis = runtime.redis
    for n in range(throttle.ACCOUNT_FAILURES_BEFORE_DELAY):
        await wrong_password(runtime, email="a@x.cn", address=f"198.51.100.{n % 2}")
    await wrong_password(runtime, email="b@x.cn")

    delayed = await _delayed(redis, "a@x.cn")
    assert delayed == {"a@x.cn": 60}

    assert await throttle.clear_account(redis, email="A@x.cn") is True

    assert await _delayed(redis, "a@x.cn") == {}
    assert isinstance(await attempt(runtime, email="a@x.cn", address="198.51.100.0"), Attempt)
    assert await throttle.clear_account(redis, email="nobody@x.cn") is False
