"""Binding chat accounts to candidates, safely: nobody learns another candidate's status.

Two ways in:
- a binding link: a single-use, expiring token (192 random bits, 32 URL-safe characters,
  stored only as SHA-256) issued per application and channel, carried by a WeChat QR scene,
  a Telegram `/start` deep link or a web-chat link;
- manual: the application code and the candidate's own e-mail or phone as on file, then a
  6-digit one-time code e-mailed to the candidate's registered address. An application code
  alone sends nothing. Five wrong codes lock the application for 15 minutes, and
  `limits.FAILED_CODES_PER_APPLICATION` wrong codes in a day lock it for `LONG_LOCK`; an
  unknown application, a contact that does not match, a wrong, expired or foreign code, a
  locked or rate-limited application all look the same to the person typing.

Every binding, rebinding, unbinding and opt-out writes a `chat_identity_events` row.
Everything runs in the caller's transaction and only flushes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats.repository import application_by_code
from candor.chat import limits, teams
from candor.chat.commands import normalise_phone
from candor.chat.texts import text
from candor.delivery.direct import queue_direct
from candor.logging import get_logger
from candor.models import (
    Application,
    BindingToken,
    Candidate,
    ChatIdentity,
    Conversation,
    IdentityEvent,
    ManualBinding,
)
from candor.models.chat import IdentityAction
from candor.models.enums import Channel, Locale
from candor.models.webhooks import WebhookEventType
from candor.webhooks import events as webhook_events

if TYPE_CHECKING:
    # Only named in annotations: issuing a link (`candor bind-link`) needs no Redis.
    from redis.asyncio import Redis

log = get_logger(__name__)

TOKEN_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters of [A-Za-z0-9_-]
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# WeChat prefixes the scene of a QR code scanned by a new follower with this.
WECHAT_SUBSCRIBE_PREFIX = "qrscene_"
CODE_TTL = timedelta(minutes=10)
CODE_RESEND_INTERVAL = timedelta(seconds=60)
MAX_FAILED_CODES = 5
LOCK_DURATION = timedelta(minutes=15)
# After a day's allowance of wrong codes (limits.FAILED_CODES_PER_APPLICATION).
LONG_LOCK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    plaintext: str
    application_code: str
    channel: Channel
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class BindResult:
    application: Application
    action: IdentityAction  # BOUND, or REBOUND when the account belonged to someone else


@dataclass(frozen=True, slots=True)
class CodeToSend:
    """A one-time code, queued for e-mailing with the transaction that stored its hash."""

    email: str
    application_code: str
    code: str
    candidate_id: int


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _hash_code(secret: str, application_id: int, code: str) -> str:
    # Keyed: a 6-digit code's plain hash is reversed in a millisecond.
    return hmac.new(secret.encode(), f"{application_id}:{code}".encode(), "sha256").hexdigest()


async def issue_token(
    session: AsyncSession,
    application: Application,
    channel: Channel,
    *,
    actor: str,
    now: datetime,
    valid_for: timedelta,
) -> IssuedToken:
    """A new binding token for this application and channel; earlier unused ones are revoked,
    so at most one link per application and channel works at a time."""
    await session.execute(
        update(BindingToken)
        .where(
            BindingToken.application_id == application.id,
            BindingToken.channel == channel,
            BindingToken.used_at.is_(None),
            BindingToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    plaintext = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        BindingToken(
            token_hash=hash_token(plaintext),
            application_id=application.id,
            channel=channel,
            created_at=now,
            created_by=actor,
            expires_at=now + valid_for,
        )
    )
    await session.flush()
    log.info(
        "chat.binding_token_issued",
        application_id=application.id,
        channel=channel.value,
        actor=actor,
    )
    return IssuedToken(plaintext, application.code, channel, now + valid_for)


def token_from_event_key(event_key: str) -> str | None:
    """The token inside a /start payload or QR scene, or None if it cannot be one."""
    key = event_key.strip().removeprefix(WECHAT_SUBSCRIBE_PREFIX)
    return key if TOKEN_PATTERN.match(key) else None


async def redeem_token(
    session: AsyncSession, identity: ChatIdentity, token: str, *, now: datetime
) -> BindResult | None:
    """Bind `identity` with a link token; None if it is unknown, used, revoked, expired or
    was issued for another channel."""
    row = await session.scalar(
        select(BindingToken).where(BindingToken.token_hash == hash_token(token)).with_for_update()
    )
    if (
        row is None
        or row.used_at is not None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.channel is not identity.channel
    ):
        log.info("chat.binding_token_refused", found=row is not None, channel=identity.channel)
        return None
    row.used_at, row.used_by_identity_id = now, identity.id
    application = await session.get_one(Application, row.application_id)
    action = await bind(session, identity, application, actor="candidate", via="token", now=now)
    return BindResult(application, action)


async def bind(
    session: AsyncSession,
    identity: ChatIdentity,
    application: Application,
    *,
    actor: str,
    via: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> IdentityAction:
    """Bind `identity` to the application's candidate, audited. The candidate's other
    account on the same channel, if any, is unbound: one account per channel receives."""
    previous = identity.candidate_id if identity.bound_at is not None else None
    candidate_id = application.candidate_id
    others = (
        await session.scalars(
            select(ChatIdentity).where(
                ChatIdentity.candidate_id == candidate_id,
                ChatIdentity.channel == identity.channel,
                ChatIdentity.id != identity.id,
                ChatIdentity.bound_at.is_not(None),
            )
        )
    ).all()
    for other in others:
        await _unbind(session, other, IdentityAction.REPLACED, actor=actor, via=via, now=now)
    identity.candidate_id, identity.bound_at = candidate_id, now
    await _follow_candidate(session, identity)
    conversation_id = await session.scalar(
        select(Conversation.id).where(Conversation.chat_identity_id == identity.id)
    )
    if conversation_id is not None:
        # Bound through this application: the conversation is about it until the candidate
        # asks about another (`candor.chat.teams`).
        await teams.concern(session, conversation_id, application, now=now)
    action = (
        IdentityAction.REBOUND
        if previous is not None and previous != candidate_id
        else IdentityAction.BOUND
    )
    _audit(
        session,
        identity,
        action,
        actor=actor,
        via=via,
        now=now,
        application_id=application.id,
        previous_candidate_id=previous if action is IdentityAction.REBOUND else None,
        details=details,
    )
    log.info(
        "chat.identity_bound",
        identity_id=identity.id,
        application_id=application.id,
        action=action.value,
        via=via,
    )
    return action


async def unbind(
    session: AsyncSession, identity: ChatIdentity, *, actor: str, via: str, now: datetime
) -> bool:
    """Unbind `identity`, audited; False if it was not bound."""
    if identity.bound_at is None:
        return False
    await _unbind(session, identity, IdentityAction.UNBOUND, actor=actor, via=via, now=now)
    return True


async def _unbind(
    session: AsyncSession,
    identity: ChatIdentity,
    action: IdentityAction,
    *,
    actor: str,
    via: str,
    now: datetime,
) -> None:
    previous = identity.candidate_id
    identity.candidate_id, identity.bound_at = None, None
    await _follow_candidate(session, identity)
    _audit(session, identity, action, actor=actor, via=via, now=now, previous_candidate_id=previous)
    log.info("chat.identity_unbound", identity_id=identity.id, action=action.value, via=via)


async def _follow_candidate(session: AsyncSession, identity: ChatIdentity) -> None:
    await session.execute(
        update(Conversation)
        .where(Conversation.chat_identity_id == identity.id)
        .values(candidate_id=identity.candidate_id)
        .execution_options(synchronize_session="fetch")
    )


async def set_opt_out(
    session: AsyncSession, identity: ChatIdentity, *, opted_out: bool, via: str, now: datetime
) -> bool:
    """Opt this account out of (or back into) notifications; False if nothing changed. An
    opt-out of a candidate's account is reported to the ATS (`candidate.opted_out`)."""
    if (identity.opted_out_at is not None) == opted_out:
        return False
    identity.opted_out_at = now if opted_out else None
    _audit(
        session,
        identity,
        IdentityAction.OPTED_OUT if opted_out else IdentityAction.OPTED_IN,
        actor="candidate",
        via=via,
        now=now,
    )
    if opted_out and identity.candidate_id is not None:
        await webhook_events.record_for_candidate(
            session,
            WebhookEventType.CANDIDATE_OPTED_OUT,
            identity.candidate_id,
            None,
            {"scope": "channel", "channel": identity.channel.value, "via": via},
            now=now,
        )
    log.info("chat.opt_out" if opted_out else "chat.opt_in", identity_id=identity.id, via=via)
    return True


def record_preference(
    session: AsyncSession,
    identity: ChatIdentity,
    candidate: Candidate,
    before: list[str],
    *,
    now: datetime,
) -> None:
    _audit(
        session,
        identity,
        IdentityAction.PREFERENCE_CHANGED,
        actor="candidate",
        via="keyword",
        now=now,
        details={"before": before, "after": list(candidate.preferred_channels)},
    )


def _audit(
    session: AsyncSession,
    identity: ChatIdentity,
    action: IdentityAction,
    *,
    actor: str,
    via: str,
    now: datetime,
    application_id: int | None = None,
    previous_candidate_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        IdentityEvent(
            chat_identity_id=identity.id,
            action=action,
            candidate_id=identity.candidate_id,
            previous_candidate_id=previous_candidate_id,
            application_id=application_id,
            actor=actor,
            via=via,
            details=details or {},
            at=now,
        )
    )


def contact_matches(candidate: Candidate, contact: str) -> bool:
    """Whether `contact` (normalised by `commands.normalise_contact`) is the candidate's
    e-mail (case-insensitively) or phone (digits, +86 optional). Compares digests, so the
    time taken tells nothing about how much of the contact was right."""

    def digest(value: str) -> bytes:
        return hashlib.sha256(value.encode()).digest()

    typed = digest(contact)
    email = (candidate.email or "").strip().casefold()
    phone = normalise_phone(candidate.mobile or "")
    by_email = hmac.compare_digest(typed, digest(email))
    by_phone = hmac.compare_digest(typed, digest(phone))
    return (by_email and bool(email)) | (by_phone and bool(phone))


async def request_code(
    session: AsyncSession,
    identity: ChatIdentity,
    application_code: str,
    contact: str,
    *,
    redis: Redis,
    secret: str,
    now: datetime,
    locale: Locale | None = None,
) -> CodeToSend | None:
    """Store a new one-time code for the application and queue its e-mail (in `locale`, by
    default the candidate's) to the address on file, sent by the delivery loop once this
    transaction commits. None when there is nothing to send: unknown application, `contact`
    not the candidate's own, no e-mail on file, locked, asked again within a minute, or the
    application's daily e-mails spent."""
    application = await application_by_code(session, application_code.upper())
    if application is None:
        return None
    candidate = await session.get_one(Candidate, application.candidate_id)
    if not contact_matches(candidate, contact):
        log.info("chat.code_contact_mismatch", application_id=application.id)
        return None
    if not candidate.email:
        return None
    state = await _manual_state(session, application.id)
    if state.locked_until is not None and state.locked_until > now:
        return None
    if (
        state.code_expires_at is not None
        and state.code_expires_at - CODE_TTL + CODE_RESEND_INTERVAL > now
    ):
        return None  # one e-mail a minute at most: the address is not ours to flood
    limited = await limits.hit(
        redis, (limits.CODE_EMAILS_PER_APPLICATION, limits.subject(application.id)), now=now
    )
    if limited is not None:
        log.warning("chat.code_emails_limited", application_id=application.id)
        return None
    code = f"{secrets.randbelow(1_000_000):06d}"
    state.code_hash = _hash_code(secret, application.id, code)
    state.code_expires_at = now + CODE_TTL
    state.chat_identity_id = identity.id
    state.updated_at = now
    language = locale or candidate.locale
    queue_direct(
        session,
        channel=Channel.EMAIL,
        recipient=candidate.email,
        subject=text("code_email_subject", language),
        body=text(
            "code_email_body",
            language,
            channel=identity.channel,
            code=application.code,
            otp=code,
        ),
        locale=language,
        now=now,
    )
    await session.flush()  # the session does not autoflush; the code must be findable
    return CodeToSend(candidate.email, application.code, code, candidate.id)


async def verify_code(
    session: AsyncSession,
    identity: ChatIdentity,
    code: str,
    *,
    application_code: str | None,
    redis: Redis,
    secret: str,
    now: datetime,
) -> BindResult | None:
    """Bind with a one-time code; None for every kind of failure alike."""
    state = await _pending_state(session, identity, application_code)
    if state is None:
        return None
    if state.locked_until is not None and state.locked_until > now:
        return None
    valid = (
        state.code_hash is not None
        and state.code_expires_at is not None
        and state.code_expires_at > now
        and state.chat_identity_id == identity.id
        and hmac.compare_digest(state.code_hash, _hash_code(secret, state.application_id, code))
    )
    state.updated_at = now
    if not valid:
        state.failed_attempts += 1
        failures_today = await limits.count(
            redis,
            limits.FAILED_CODES_PER_APPLICATION,
            limits.subject(state.application_id),
            now=now,
        )
        if failures_today >= limits.FAILED_CODES_PER_APPLICATION.limit:
            _lock(state, now + LONG_LOCK)
        elif state.failed_attempts >= MAX_FAILED_CODES:
            _lock(state, now + LOCK_DURATION)
        return None
    state.code_hash = state.code_expires_at = None
    state.failed_attempts, state.locked_until = 0, None
    application = await session.get_one(Application, state.application_id)
    action = await bind(
        session, identity, application, actor="candidate", via="manual_code", now=now
    )
    return BindResult(application, action)


def _lock(state: ManualBinding, until: datetime) -> None:
    state.locked_until = until
    state.failed_attempts = 0
    state.code_hash = state.code_expires_at = None
    log.warning(
        "chat.manual_binding_locked", application_id=state.application_id, until=until.isoformat()
    )


async def _manual_state(session: AsyncSession, application_id: int) -> ManualBinding:
    state = await session.get(ManualBinding, application_id, with_for_update=True)
    if state is None:
        try:
            async with session.begin_nested():  # a concurrent first request may win
                state = ManualBinding(application_id=application_id, failed_attempts=0)
                session.add(state)
        except IntegrityError:
            state = await session.get_one(
                ManualBinding, application_id, with_for_update=True, populate_existing=True
            )
    return state


async def _pending_state(
    session: AsyncSession, identity: ChatIdentity, application_code: str | None
) -> ManualBinding | None:
    """The manual-binding state a typed code is checked against: the named application's,
    or the one this account last asked a code for."""
    if application_code is not None:
        application = await application_by_code(session, application_code)
        return None if application is None else await _manual_state(session, application.id)
    return await session.scalar(
        select(ManualBinding)
        .where(ManualBinding.chat_identity_id == identity.id, ManualBinding.code_hash.is_not(None))
        .order_by(ManualBinding.updated_at.desc())
        .limit(1)
        .with_for_update()
    )


async def issue_link_for_code(
    session: AsyncSession,
    application_code: str,
    channel: Channel,
    *,
    actor: str,
    now: datetime,
    valid_for: timedelta,
) -> IssuedToken | None:
    application = await application_by_code(session, application_code.upper())
    if application is None:
        return None
    return await issue_token(
        session, application, channel, actor=actor, now=now, valid_for=valid_for
    )
