"""HR users: create, edit, deactivate and reactivate, reset passwords, clear login delays.

Every change writes an audit row (before/after, never a password or its hash) in the
caller's transaction. Two rules hold across all of them:

- **an active admin remains**: no change may demote or deactivate the last active admin
  (the admins' rows are locked first, so two admins demoting each other at once cannot
  both succeed: on PostgreSQL the second waits for the first's commit, on SQLite every
  write transaction is serial);
- **deactivation is complete**: the user's `hr` tokens are revoked in the same transaction
  and their console sessions end. Sessions are in Redis and end before the commit; that
  is harmless if the commit then fails (the user logs in again), and every request
  reloads the user anyway, so an inactive user is refused from the commit on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import email_validator
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from candor.access.errors import AccessInputError, AccessNotFoundError, add_unique
from candor.audit.service import Action, record
from candor.auth import passwords, sessions, throttle
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import ApiToken, HRUser, Team, TeamMembership
from candor.models.enums import Role

log = get_logger(__name__)

MAX_NAME = 200
MAX_EMAIL = 320


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as the admin pages list them."""

    user: HRUser
    teams: list[Team]
    delayed_for_seconds: int | None  # set while failed logins delay untrusted clients


@dataclass(frozen=True, slots=True)
class UserChange:
    """What a deactivation or password reset did besides the user's row."""

    user: HRUser
    sessions_ended: int
    tokens_revoked: list[int]


def _snapshot(user: HRUser, team_ids: Iterable[int]) -> dict[str, Any]:
    return {
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role.value,
        "team_ids": sorted(team_ids),
        "is_active": user.is_active,
    }


def normalize_email(email: str) -> str:
    """The address as stored: validated, its domain normalised, lower-cased (logins and
    the importer compare lower-cased addresses). Raises AccessInputError."""
    text = email.strip()
    if not text:
        raise AccessInputError({"email": "enter an e-mail address"})
    if len(text) > MAX_EMAIL:
        raise AccessInputError({"email": f"use at most {MAX_EMAIL} characters"})
    try:
        valid = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise AccessInputError({"email": str(exc)}) from exc
    return valid.normalized.lower()


def _role(value: str, problems: dict[str, str]) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        problems["role"] = f"choose one of {', '.join(r.value for r in Role)}"
        return None


def _display_name(value: str, problems: dict[str, str]) -> str:
    name = value.strip()
    if not name:
        problems["display_name"] = "enter a name"
    elif len(name) > MAX_NAME:
        problems["display_name"] = f"use at most {MAX_NAME} characters"
    return name


async def _check_teams(
    session: AsyncSession, team_ids: Sequence[int], problems: dict[str, str]
) -> set[int]:
    wanted = set(team_ids)
    if not wanted:
        return wanted
    found = set((await session.scalars(select(Team.id).where(Team.id.in_(wanted)))).all())
    if found != wanted:
        problems["team_ids"] = f"no such team: {', '.join(map(str, sorted(wanted - found)))}"
    return wanted


async def _team_ids(session: AsyncSession, user_id: int) -> set[int]:
    query = select(TeamMembership.team_id).where(TeamMembership.user_id == user_id)
    return set((await session.scalars(query)).all())


async def _set_teams(
    session: AsyncSession, user_id: int, current: set[int], wanted: set[int]
) -> None:
    for membership in (
        await session.scalars(
            select(TeamMembership).where(
                TeamMembership.user_id == user_id, TeamMembership.team_id.in_(current - wanted)
            )
        )
    ).all():
        await session.delete(membership)
    session.add_all(TeamMembership(team_id=t, user_id=user_id) for t in sorted(wanted - current))
    await session.flush()


async def _get_user(session: AsyncSession, user_id: int, *, for_update: bool = False) -> HRUser:
    # populate_existing: the row may already be in the session (an admin editing
    # themselves), and a locked read must see the committed values, not the cached ones.
    query = select(HRUser).where(HRUser.id == user_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    user = await session.scalar(query)
    if user is None:
        raise AccessNotFoundError(f"no HR user {user_id}")
    return user


async def _lock_admins_then_user(
    session: AsyncSession, user_id: int
) -> tuple[HRUser, frozenset[int]]:
    """Lock the active admins' rows (in id order), then the user's; returns the user and
    the active admins' ids. Every change that could remove an admin takes the locks in this
    order, so two of them run one after the other (no deadlock), and the second sees the
    first's result."""
    admins = frozenset(
        (
            await session.scalars(
                select(HRUser.id)
                .where(HRUser.role == Role.ADMIN, HRUser.is_active.is_(True))
                .order_by(HRUser.id)
                .with_for_update()
            )
        ).all()
    )
    return await _get_user(session, user_id, for_update=True), admins


def _ensure_an_admin_remains(user: HRUser, admins: frozenset[int], field: str) -> None:
    """Refuse to take `user` out of the active admins when no other active admin exists."""
    if user.id in admins and not admins - {user.id}:
        raise AccessInputError(
            {field: "this is the last active admin: make another user an admin first"}
        )


async def list_users(session: AsyncSession, redis: Redis) -> list[UserRow]:
    """Every HR user, active ones first, with their teams and whether their logins wait."""
    users = (
        await session.scalars(
            select(HRUser)
            .options(selectinload(HRUser.memberships).selectinload(TeamMembership.team))
            .order_by(HRUser.is_active.desc(), func.lower(HRUser.email))
        )
    ).all()
    delayed = await throttle.account_delays(redis, [u.email for u in users], now=utcnow())
    return [
        UserRow(
            user=u,
            teams=sorted((m.team for m in u.memberships), key=lambda t: t.name),
            delayed_for_seconds=delayed.get(u.email),
        )
        for u in users
    ]


async def get_user_row(session: AsyncSession, redis: Redis, user_id: int) -> UserRow:
    user = await session.scalar(
        select(HRUser)
        .where(HRUser.id == user_id)
        .options(selectinload(HRUser.memberships).selectinload(TeamMembership.team))
    )
    if user is None:
        raise AccessNotFoundError(f"no HR user {user_id}")
    delayed = await throttle.account_delays(redis, [user.email], now=utcnow())
    return UserRow(
        user=user,
        teams=sorted((m.team for m in user.memberships), key=lambda t: t.name),
        delayed_for_seconds=delayed.get(user.email),
    )


async def create_user(
    session: AsyncSession,
    *,
    actor: str,
    email: str,
    display_name: str,
    role: str,
    team_ids: Sequence[int],
    password: str,
) -> HRUser:
    """A new active user with an argon2id hash of the admin-chosen initial password."""
    problems: dict[str, str] = {}
    address = ""
    try:
        address = normalize_email(email)
    except AccessInputError as exc:
        problems.update(exc.problems)
    name = _display_name(display_name, problems)
    parsed_role = _role(role, problems)
    teams = await _check_teams(session, team_ids, problems)
    weak = passwords.password_problems(password, email=address or email)
    if weak:
        problems["password"] = "; ".join(weak)
    if address and await session.scalar(
        select(HRUser.id).where(func.lower(HRUser.email) == address)
    ):
        problems["email"] = f"{address} already has an account"
    if problems or parsed_role is None:
        raise AccessInputError(problems)
    user = HRUser(
        email=address,
        display_name=name,
        role=parsed_role,
        password_hash=passwords.hash_password(password),
        is_active=True,
    )
    await add_unique(session, user, field="email", problem=f"{address} already has an account")
    await _set_teams(session, user.id, set(), teams)
    record(
        session,
        actor=actor,
        action=Action.USER_CREATED,
        object_type="hr_user",
        object_id=user.id,
        after=_snapshot(user, teams),
    )
    log.info("access.user_created", user_id=user.id, role=user.role.value, actor=actor)
    return user


async def update_user(
    session: AsyncSession,
    *,
    actor: str,
    user_id: int,
    display_name: str,
    role: str,
    team_ids: Sequence[int],
) -> HRUser:
    """Change a user's name, role and teams; takes effect on their next request."""
    user, admins = await _lock_admins_then_user(session, user_id)
    problems: dict[str, str] = {}
    name = _display_name(display_name, problems)
    parsed_role = _role(role, problems)
    wanted = await _check_teams(session, team_ids, problems)
    if problems or parsed_role is None:
        raise AccessInputError(problems)
    if parsed_role is not Role.ADMIN:
        _ensure_an_admin_remains(user, admins, "role")
    current = await _team_ids(session, user.id)
    before = _snapshot(user, current)
    user.display_name = name
    user.role = parsed_role
    await _set_teams(session, user.id, current, wanted)
    after = _snapshot(user, wanted)
    if after != before:
        record(
            session,
            actor=actor,
            action=Action.USER_UPDATED,
            object_type="hr_user",
            object_id=user.id,
            before=before,
            after=after,
        )
        log.info("access.user_updated", user_id=user.id, role=user.role.value, actor=actor)
    return user


async def _revoke_hr_tokens(session: AsyncSession, user_id: int) -> list[int]:
    """Revoke the user's live personal tokens (a token names a user only with the hr scope)."""
    live = (
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.hr_user_id == user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    ).all()
    now = utcnow()
    for token in live:
        token.revoked_at = now
    await session.flush()
    return [token.id for token in live]


async def deactivate_user(
    session: AsyncSession, redis: Redis, *, actor: str, user_id: int
) -> UserChange:
    """Refuse the user from now on: their `hr` tokens are revoked, their sessions end."""
    user, admins = await _lock_admins_then_user(session, user_id)
    if not user.is_active:
        raise AccessInputError({"active": "this user is already deactivated"})
    _ensure_an_admin_remains(user, admins, "active")
    teams = await _team_ids(session, user.id)
    before = _snapshot(user, teams)
    user.is_active = False
    revoked = await _revoke_hr_tokens(session, user.id)
    ended = await sessions.end_user_sessions(redis, user.id)
    record(
        session,
        actor=actor,
        action=Action.USER_DEACTIVATED,
        object_type="hr_user",
        object_id=user.id,
        before=before,
        after=_snapshot(user, teams),
        details={"tokens_revoked": revoked, "sessions_ended": ended},
    )
    log.info("access.user_deactivated", user_id=user.id, actor=actor, tokens=len(revoked))
    return UserChange(user=user, sessions_ended=ended, tokens_revoked=revoked)


async def reactivate_user(session: AsyncSession, *, actor: str, user_id: int) -> HRUser:
    """Let a deactivated user log in again. Tokens revoked at deactivation stay revoked."""
    user = await _get_user(session, user_id, for_update=True)
    if user.is_active:
        raise AccessInputError({"active": "this user is already active"})
    teams = await _team_ids(session, user.id)
    before = _snapshot(user, teams)
    user.is_active = True
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.USER_REACTIVATED,
        object_type="hr_user",
        object_id=user.id,
        before=before,
        after=_snapshot(user, teams),
    )
    log.info("access.user_reactivated", user_id=user.id, actor=actor)
    return user


async def reset_password(
    session: AsyncSession,
    redis: Redis,
    *,
    actor: str,
    user_id: int,
    password: str,
    keep_session: str | None = None,
) -> UserChange:
    """Set a new password chosen by the admin; the user's sessions end (a reset is often
    because the old one leaked), except `keep_session` (an admin resetting their own
    password stays logged in). The audit row says it happened, never what it is."""
    user = await _get_user(session, user_id, for_update=True)
    weak = passwords.password_problems(password, email=user.email)
    if weak:
        raise AccessInputError({"password": "; ".join(weak)})
    had_password = user.password_hash is not None
    user.password_hash = passwords.hash_password(password)
    await session.flush()
    ended = await sessions.end_user_sessions(redis, user.id, keep=keep_session)
    record(
        session,
        actor=actor,
        action=Action.USER_PASSWORD_RESET,
        object_type="hr_user",
        object_id=user.id,
        before={"has_password": had_password},
        after={"has_password": True},
        details={"sessions_ended": ended},
    )
    log.info("access.password_reset", user_id=user.id, actor=actor)
    return UserChange(user=user, sessions_ended=ended, tokens_revoked=[])


async def clear_lockout(session: AsyncSession, redis: Redis, *, actor: str, user_id: int) -> None:
    """Lift the delay that failed logins put on the account, and forget its failures from
    every address (an address's own count, over all accounts, stays)."""
    user = await _get_user(session, user_id)
    delayed = await throttle.account_delays(redis, [user.email], now=utcnow())
    if user.email not in delayed:
        raise AccessInputError({"lockout": "this account's logins are not delayed"})
    await throttle.clear_account(redis, email=user.email)
    record(
        session,
        actor=actor,
        action=Action.USER_LOCKOUT_CLEARED,
        object_type="hr_user",
        object_id=user.id,
        before={"delayed_for_seconds": delayed[user.email]},
        after={"delayed_for_seconds": None},
    )
    log.info("access.lockout_cleared", user_id=user.id, actor=actor)


CONSOLE_LOCALES = frozenset({"zh_CN", "en"})


async def set_locale(session: AsyncSession, *, user_id: int, locale: str) -> HRUser:
    """Remember the console language a user chose, for every later session and device."""
    if locale not in CONSOLE_LOCALES:
        raise AccessInputError({"locale": "not a console language"})
    user = await _get_user(session, user_id)
    user.locale = locale
    await session.flush()
    log.info("access.user_locale_set", user_id=user.id, locale=locale)
    return user
