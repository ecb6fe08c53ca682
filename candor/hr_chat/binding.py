"""Binding an HR user's WeCom userid or Telegram chat to their Candor account.

The console gives the logged-in HR user a short code; they send it to Candor's WeCom app (or
`/start <code>` to the Telegram bot) and the callback binds the account it came from. Only
the code's SHA-256 is kept, in Redis, for CODE_TTL; taking it deletes it (GETDEL), so a code
binds at most once. Binding and unbinding are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import HrChatAccount, HRUser
from candor.models.enums import HrChatPlatform

log = get_logger(__name__)

CODE_TTL = timedelta(minutes=10)
# No 0/O, 1/I/L: the code is read off a screen and typed on a phone.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def _key(platform: HrChatPlatform, code: str) -> str:
    digest = hashlib.sha256(normalise(code).encode()).hexdigest()
    return f"hr_chat:bind:{platform.value}:{digest}"


def normalise(code: str) -> str:
    return "".join(code.split()).upper()


def looks_like_code(text: str) -> bool:
    value = normalise(text)
    return len(value) == CODE_LENGTH and all(c in ALPHABET for c in value)


async def new_code(redis: Redis, user_id: int, platform: HrChatPlatform) -> str:
    """A fresh single-use code binding `platform` to this user, valid for CODE_TTL."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    await redis.set(_key(platform, code), str(user_id), ex=int(CODE_TTL.total_seconds()))
    return code


@dataclass(frozen=True, slots=True)
class BindResult:
    ok: bool
    reason: str  # "bound", "bad_code", "taken"
    user: HRUser | None = None


async def bind(
    session: AsyncSession,
    redis: Redis,
    platform: HrChatPlatform,
    external_id: str,
    code: str,
    *,
    now: datetime | None = None,
) -> BindResult:
    """Bind the account `external_id` to the code's HR user; the code is used up either way."""
    now = now or utcnow()
    raw = await redis.getdel(_key(platform, code))
    if raw is None:
        return BindResult(False, "bad_code")
    user = await session.get(HRUser, int(raw))
    if user is None or not user.is_active:
        return BindResult(False, "bad_code")
    holder = await session.scalar(
        select(HrChatAccount).where(
            HrChatAccount.platform == platform, HrChatAccount.external_id == external_id
        )
    )
    if holder is not None and holder.user_id != user.id:
        return BindResult(False, "taken", user)
    account = await session.scalar(
        select(HrChatAccount).where(
            HrChatAccount.user_id == user.id, HrChatAccount.platform == platform
        )
    )
    before = {"external_id": account.external_id} if account is not None else None
    if account is None:
        account = HrChatAccount(user_id=user.id, platform=platform, external_id=external_id)
        session.add(account)
    account.external_id, account.bound_at = external_id, now
    await session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action=audit.Action.HR_CHAT_BOUND,
        object_type="hr_user",
        object_id=user.id,
        before=before,
        after={"platform": platform.value, "external_id": external_id},
        details={"via": platform.value},
        at=now,
    )
    log.info("hr_chat.bound", user_id=user.id, platform=platform.value)
    return BindResult(True, "bound", user)


async def unbind(
    session: AsyncSession, user_id: int, platform: HrChatPlatform, *, actor: str
) -> bool:
    """Forget the user's account on `platform`; False when none was bound."""
    account = await session.scalar(
        select(HrChatAccount).where(
            HrChatAccount.user_id == user_id, HrChatAccount.platform == platform
        )
    )
    if account is None:
        return False
    await session.execute(delete(HrChatAccount).where(HrChatAccount.id == account.id))
    audit.record(
        session,
        actor=actor,
        action=audit.Action.HR_CHAT_UNBOUND,
        object_type="hr_user",
        object_id=user_id,
        before={"platform": platform.value, "external_id": account.external_id},
    )
    log.info("hr_chat.unbound", user_id=user_id, platform=platform.value)
    return True


async def accounts_of(session: AsyncSession, user_id: int) -> dict[HrChatPlatform, HrChatAccount]:
    rows = await session.scalars(select(HrChatAccount).where(HrChatAccount.user_id == user_id))
    return {account.platform: account for account in rows.all()}


async def account_holder(
    session: AsyncSession, platform: HrChatPlatform, external_id: str
) -> HrChatAccount | None:
    return await session.scalar(
        select(HrChatAccount).where(
            HrChatAccount.platform == platform, HrChatAccount.external_id == external_id
        )
    )
