"""Password login for HR users, throttled by progressive delays with known devices exempt
(see candor/auth/throttle.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth import passwords, throttle
from candor.clock import utcnow
from candor.errors import CandorError
from candor.logging import get_logger, mask_value
from candor.models import HRUser

log = get_logger(__name__)


class LoginError(CandorError):
    """The login did not succeed; `message` is safe to show (it never says which part was
    wrong, so it does not reveal which addresses have accounts)."""

    code = "login_failed"
    http_status = 401

    def __init__(
        self, message: str, *, retry_after_seconds: int | None = None, reason: str = "invalid"
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        # What went wrong as data, for edges that say it in the user's language:
        # "invalid", or the throttle scope's value ("rate", "pair", "account", "address").
        self.reason = reason


INVALID = "unknown e-mail address or wrong password"


def _wait(seconds: int) -> str:
    return f"{seconds} s" if seconds < 60 else f"{math.ceil(seconds / 60)} min"


def _throttled_error(throttled: throttle.Throttled) -> LoginError:
    wait = _wait(throttled.retry_after_seconds)
    text = {
        throttle.Scope.RATE: "too many login attempts from this address; wait a minute",
        throttle.Scope.PAIR: f"too many failed logins for this account from here; try again "
        f"in {wait}",
        throttle.Scope.ACCOUNT: f"too many failed logins for this account from unknown devices; "
        f"try again in {wait}, or from a browser you have logged in with before",
        throttle.Scope.ADDRESS: f"too many failed logins from this address; try again in {wait}",
    }[throttled.scope]
    return LoginError(
        text, retry_after_seconds=throttled.retry_after_seconds, reason=throttled.scope.value
    )


@dataclass(frozen=True, slots=True)
class LoginSuccess:
    user_id: int
    device_cookie: str  # for the browser, so that it is a known device next time


async def login(
    session: AsyncSession,
    redis: Redis,
    *,
    email: str,
    password: str,
    address: str,
    device_cookie: str | None,
    secret: str,
    now: datetime | None = None,
) -> LoginSuccess:
    """Check the password of an active HR user; raises LoginError otherwise.

    Upgrades the stored hash when its parameters are outdated (the caller commits).
    """
    attempt = await throttle.begin(
        redis,
        email=email,
        address=address,
        device_cookie=device_cookie,
        secret=secret,
        now=now or utcnow(),
    )
    if isinstance(attempt, throttle.Throttled):
        log.warning(
            "console.login_throttled",
            scope=attempt.scope.value,
            retry_after_seconds=attempt.retry_after_seconds,
            email=email,
            client=mask_value(address),
        )
        raise _throttled_error(attempt)
    user = await session.scalar(
        select(HRUser).where(func.lower(HRUser.email) == email.strip().lower())
    )
    stored = user.password_hash if user is not None and user.is_active else None
    if not await passwords.verify_password(stored, password) or user is None:
        revoked = await throttle.failed(redis, attempt)
        log.info(
            "console.login_failed",
            user_id=user.id if user else None,
            known_device=attempt.trusted,
        )
        if revoked:
            log.warning("console.login_device_revoked", user_id=user.id if user else None)
        raise LoginError(INVALID)
    cookie = await throttle.succeeded(redis, attempt, email=email, secret=secret)
    if stored is not None and passwords.needs_rehash(stored):
        user.password_hash = passwords.hash_password(password)
    log.info("console.login", user_id=user.id, known_device=attempt.trusted)
    return LoginSuccess(user_id=user.id, device_cookie=cookie)
