"""Password login for HR users, throttled (see candor/auth/throttle.py)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth import passwords, throttle
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import HRUser

log = get_logger(__name__)


class LoginError(CandorError):
    """The login did not succeed; `message` is safe to show (it never says which part was
    wrong, so it does not reveal which addresses have accounts)."""

    code = "login_failed"
    http_status = 401

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


INVALID = "unknown e-mail address or wrong password"


def _throttled_error(throttled: throttle.Throttled) -> LoginError:
    minutes = max(1, throttled.retry_after_seconds // 60)
    text = {
        "rate_limited": "too many login attempts from this address; wait a minute",
        "account_locked": f"this account is locked after repeated failures; try again in "
        f"{minutes} min",
        "address_locked": f"too many failures from this address; try again in {minutes} min",
    }[throttled.reason]
    return LoginError(text, retry_after_seconds=throttled.retry_after_seconds)


@dataclass(frozen=True, slots=True)
class LoginSuccess:
    user_id: int


async def login(
    session: AsyncSession, redis: Redis, *, email: str, password: str, address: str
) -> LoginSuccess:
    """Check the password of an active HR user; raises LoginError otherwise.

    Upgrades the stored hash when its parameters are outdated (the caller commits).
    """
    throttled = await throttle.check(redis, email=email, address=address)
    if throttled is not None:
        log.warning("console.login_throttled", reason=throttled.reason)
        raise _throttled_error(throttled)
    user = await session.scalar(
        select(HRUser).where(func.lower(HRUser.email) == email.strip().lower())
    )
    stored = user.password_hash if user is not None and user.is_active else None
    if not await passwords.verify_password(stored, password) or user is None:
        locked = await throttle.record_failure(redis, email=email, address=address)
        log.info("console.login_failed", user_id=user.id if user else None)
        if locked is not None:
            raise _throttled_error(locked)
        raise LoginError(INVALID)
    await throttle.record_success(redis, email=email)
    if stored is not None and passwords.needs_rehash(stored):
        user.password_hash = passwords.hash_password(password)
    log.info("console.login", user_id=user.id)
    return LoginSuccess(user_id=user.id)
