"""Consent the candidate gives or withdraws in chat, beyond one account's opt-out: stopping
every proactive message on all channels, resuming them, and joining the talent pool.

Each change is audited in the caller's transaction (the audit log, with its scope and the
channel it was said on), so HR can see who changed what and why.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Text, and_, func, literal, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.crypto.fields import current_keyring
from candor.crypto.lookups import mobile_index, stored
from candor.delivery.sms_numbers import SEPARATORS
from candor.logging import get_logger
from candor.models import Candidate, ChatIdentity
from candor.models.webhooks import WebhookEventType
from candor.webhooks import events as webhook_events

log = get_logger(__name__)

SCOPE_ALL = "all"
SCOPE_CHANNEL = "channel"


def _audit(
    session: AsyncSession,
    candidate: Candidate,
    identity: ChatIdentity,
    *,
    consent: str,
    before: bool,
    after: bool,
    now: datetime,
) -> None:
    _record(
        session,
        candidate.id,
        consent=consent,
        before=before,
        after=after,
        details={"via": "chat", "channel": identity.channel.value},
        now=now,
    )


def _record(
    session: AsyncSession,
    candidate_id: int,
    *,
    consent: str,
    before: bool,
    after: bool,
    details: dict[str, str],
    now: datetime,
) -> None:
    record(
        session,
        actor="candidate",
        action=Action.CANDIDATE_CONSENT_CHANGED,
        object_type="candidate",
        object_id=candidate_id,
        before={consent: before},
        after={consent: after},
        details=details,
        at=now,
    )


async def stop_sms(
    session: AsyncSession, mobiles: Collection[str], *, provider: str, now: datetime
) -> list[int]:
    """The number replied TD / 退订 to an SMS: every candidate with that mobile gets no more
    SMS; their other channels stay. `mobiles` are the number's digit-only forms (with and
    without the country code), matched against `candidates.mobile` with the separators the
    sender ignores (`candor.delivery.sms_numbers.SEPARATORS`) and `+` left out, however the
    ATS wrote it (a scan: replies are rare). Returns the
    candidates opted out now: none for those who had already said so, so a replayed reply
    changes nothing and is not audited or reported twice (one statement, safe against a
    replay handled at the same moment). Reported to the ATS (`candidate.opted_out`, scope
    "channel", channel "sms")."""
    # Sealed numbers match by blind index (every form of a number has one: `phone_key`);
    # numbers still in plaintext from before migration 0022, by their digits, while
    # plaintext lookups are on.
    indexes = {mobile_index(form) for form in mobiles} - {None}
    matches: ColumnElement[bool] = Candidate.mobile_index.in_(
        sorted(index for index in indexes if index is not None)
    )
    if current_keyring().plaintext_lookups:
        digits_only: ColumnElement[str | None] = stored(Candidate.mobile.expression)
        for separator in (*SEPARATORS, "+"):
            digits_only = func.replace(digits_only, separator, "")
        matches = or_(
            matches,
            and_(
                Candidate.mobile_index.is_(None),
                Candidate.mobile.is_not(None),
                digits_only.in_([literal(form, Text()) for form in sorted(mobiles)]),
            ),
        )
    opted_out = list(
        (
            await session.scalars(
                update(Candidate)
                .where(matches, Candidate.sms_opted_out_at.is_(None))
                .values(sms_opted_out_at=now)
                .returning(Candidate.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    for candidate_id in sorted(opted_out):
        _record(
            session,
            candidate_id,
            consent="sms",
            before=True,
            after=False,
            details={"via": "sms_reply", "provider": provider},
            now=now,
        )
        await webhook_events.record_for_candidate(
            session,
            WebhookEventType.CANDIDATE_OPTED_OUT,
            candidate_id,
            None,
            {"scope": SCOPE_CHANNEL, "channel": "sms", "via": "sms_reply"},
            now=now,
        )
        log.info("chat.sms_opt_out", candidate_id=candidate_id, provider=provider)
    return sorted(opted_out)


async def stop_all_proactive(
    session: AsyncSession, candidate: Candidate, identity: ChatIdentity, *, now: datetime
) -> bool:
    """No result or notice is pushed to the candidate on any channel from now on; they can
    still ask in chat. False if they had already said so. Reported to the ATS
    (`candidate.opted_out`, scope "all")."""
    if candidate.proactive_opted_out_at is not None:
        return False
    candidate.proactive_opted_out_at = now
    _audit(
        session, candidate, identity, consent="proactive_messages", before=True, after=False,
        now=now,
    )  # fmt: skip
    await webhook_events.record_for_candidate(
        session,
        WebhookEventType.CANDIDATE_OPTED_OUT,
        candidate.id,
        None,
        {"scope": SCOPE_ALL, "channel": identity.channel.value, "via": "chat"},
        now=now,
    )
    log.info("chat.proactive_opt_out", candidate_id=candidate.id, scope=SCOPE_ALL)
    return True


def resume_proactive(
    session: AsyncSession, candidate: Candidate, identity: ChatIdentity, *, now: datetime
) -> bool:
    if candidate.proactive_opted_out_at is None:
        return False
    candidate.proactive_opted_out_at = None
    _audit(
        session, candidate, identity, consent="proactive_messages", before=False, after=True,
        now=now,
    )  # fmt: skip
    log.info("chat.proactive_opt_in", candidate_id=candidate.id)
    return True


def resume_sms(
    session: AsyncSession, candidate: Candidate, identity: ChatIdentity, *, now: datetime
) -> bool:
    """The candidate asked in chat for texts again after replying TD to one; False if they
    had not opted out of SMS."""
    if candidate.sms_opted_out_at is None:
        return False
    candidate.sms_opted_out_at = None
    _audit(session, candidate, identity, consent="sms", before=False, after=True, now=now)
    log.info("chat.sms_opt_in", candidate_id=candidate.id)
    return True


def join_talent_pool(
    session: AsyncSession, candidate: Candidate, identity: ChatIdentity, *, now: datetime
) -> bool:
    """The candidate accepted the talent-pool invitation; False if they were in it already."""
    if candidate.consent_talent_pool:
        return False
    candidate.consent_talent_pool = True
    _audit(session, candidate, identity, consent="talent_pool", before=False, after=True, now=now)
    log.info("chat.talent_pool_joined", candidate_id=candidate.id)
    return True
