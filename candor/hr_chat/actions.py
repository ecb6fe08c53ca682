"""What a card's buttons do, and the reason that completes a rejection.

A click names its card only by the card's random token, and acts only when it comes from
the account bound to the card's HR user, before the card expires, on a subject still
awaiting a decision, and while that user may still see the application (their scope is
loaded again at click time). Approve and reject go through `candor.outreach.service`,
as the console does, audited with `via` = the platform. Anything else is answered and
changes nothing, so a double click or a second HR user's click is harmless.

Reject needs a reason. The reject button asks for it and the recipient's next text message
to the same app within REASON_WINDOW is the reason (a preset list would put words in HR's
mouth that reach the audit trail as theirs). Until then nothing is decided; another click
or the console may still decide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import load_principal
from candor.hr_chat.binding import account_holder
from candor.hr_chat.cards import actor_name
from candor.hr_chat.texts import text
from candor.logging import get_logger
from candor.models import HrCard, HRUser
from candor.models.enums import HrCardState, HrChatPlatform
from candor.models.outreach import MessageState, OutreachMessage
from candor.outreach import service
from candor.outreach.context import outreach_context
from candor.outreach.queries import visible_message
from candor.settings import Settings

log = get_logger(__name__)

REASON_WINDOW = timedelta(minutes=10)
MAX_REASON = 500
APPROVE, REJECT = "approve", "reject"


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    # A short status for the clicked card's button ("Approved by Li Na"); None: unchanged.
    status: str | None = None
    changed: bool = False


def status_text(locale: str | None, card: HrCard) -> str:
    if card.decision == "approved":
        return text(locale, "approved_by", name=card.decided_by or "?")
    if card.decision == "rejected":
        return text(locale, "rejected_by", name=card.decided_by or "?")
    if card.decision == "superseded":
        return text(locale, "superseded")
    return text(locale, f"card_{card.state.value}")


async def _decided(session: AsyncSession, locale: str | None, message: OutreachMessage) -> str:
    """A message decided meanwhile (by a colleague, the console): its state and by whom."""
    status = text(locale, f"message_{message.state.value}")
    if message.decided_by is None:
        return status
    name = await actor_name(session, message.decided_by)
    return text(locale, "status_by", status=status, name=name)


async def _card(session: AsyncSession, token: str, *, for_update: bool) -> HrCard | None:
    query = select(HrCard).where(HrCard.token == token)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def click(
    session: AsyncSession,
    settings: Settings,
    platform: HrChatPlatform,
    external_id: str,
    token: str,
    action: str,
    *,
    now: datetime,
) -> Answer:
    """One button click from `external_id` on `platform` on the card `token`."""
    holder = await account_holder(session, platform, external_id)
    locale = None
    if holder is not None:
        user = await session.get(HRUser, holder.user_id)
        locale = user.locale if user is not None else None
    card = await _card(session, token, for_update=True)
    if card is None or card.platform is not platform:
        return Answer(text(locale, "unknown_card"))
    if holder is None or holder.user_id != card.recipient_id:
        log.warning("hr_chat.click_not_recipient", card_id=card.id, platform=platform.value)
        return Answer(text(locale, "not_yours"))
    if card.state is HrCardState.DECIDED:
        status = status_text(locale, card)
        return Answer(text(locale, "already", status=status), status=status)
    console = f"{settings.public_url.rstrip('/')}/console/messages/{card.message_id}"
    if now >= card.expires_at or card.state is HrCardState.EXPIRED:
        return Answer(text(locale, "expired", url=console))
    if action not in (APPROVE, REJECT) or card.message_id is None:
        return Answer(text(locale, "invalid", problem=action[:40]))
    principal = await load_principal(session, card.recipient_id)
    message = (
        await visible_message(session, principal, card.message_id, for_update=True)
        if principal is not None
        else None
    )
    if message is None:
        return Answer(text(locale, "out_of_scope"))
    if message.state is not MessageState.PENDING_APPROVAL:
        return Answer(text(locale, "already", status=await _decided(session, locale, message)))
    assert principal is not None
    if action == REJECT:
        card.reason_wanted_until = now + REASON_WINDOW
        minutes = int(REASON_WINDOW.total_seconds() // 60)
        return Answer(text(locale, "reason_wanted", minutes=minutes), changed=True)
    context = await outreach_context(session, settings)
    await service.approve(session, message, context, actor=principal.actor, via=platform.value)
    return Answer(text(locale, "done_approved"), status=status_text(locale, card), changed=True)


async def reason_reply(
    session: AsyncSession,
    platform: HrChatPlatform,
    external_id: str,
    reply: str,
    *,
    now: datetime,
) -> Answer | None:
    """The reason for the rejection this account asked for last, if one is awaited; None
    when no rejection awaits a reason (the text is something else)."""
    holder = await account_holder(session, platform, external_id)
    if holder is None:
        return None
    query = (
        select(HrCard)
        .where(
            HrCard.recipient_id == holder.user_id,
            HrCard.platform == platform,
            HrCard.state == HrCardState.OPEN,
            HrCard.reason_wanted_until > now,
        )
        .order_by(HrCard.reason_wanted_until.desc())
        .limit(1)
        .with_for_update()
    )
    card = await session.scalar(query)
    if card is None:
        return None
    user = await session.get_one(HRUser, holder.user_id)
    reason = reply.strip()
    if not reason or len(reason) > MAX_REASON:
        return Answer(text(user.locale, "invalid", problem=f"1-{MAX_REASON} characters"))
    principal = await load_principal(session, holder.user_id)
    message = (
        await visible_message(session, principal, card.message_id, for_update=True)
        if principal is not None and card.message_id is not None
        else None
    )
    if message is None:
        card.reason_wanted_until = None
        return Answer(text(user.locale, "out_of_scope"))
    if message.state is not MessageState.PENDING_APPROVAL:
        card.reason_wanted_until = None
        return Answer(
            text(user.locale, "already", status=await _decided(session, user.locale, message))
        )
    assert principal is not None
    await service.reject(session, message, actor=principal.actor, reason=reason, via=platform.value)
    return Answer(text(user.locale, "done_rejected", reason=reason), changed=True)
