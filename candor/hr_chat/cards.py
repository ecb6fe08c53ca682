"""Approval cards: written with the event that warrants them, closed with the decision.

A card is one row of `hr_cards` per (subject, HR user, platform), for the HR users the
notice routing of `candor.outreach.hr_notices` picks who have bound that platform. Both
functions run in the caller's transaction: nothing is sent here; the delivery loop's card
queue (`candor.hr_chat.queue`) sends new cards and updates decided ones after commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from candor.logging import get_logger
from candor.models import Application, Handoff, HrCard, HrChatAccount, Job, OutreachMessage
from candor.models.enums import HrCardKind, HrCardState
from candor.models.outreach import SlaNotificationKind
from candor.outreach.hr_notices import hr_people

log = get_logger(__name__)

# WeCom's response_code, which updates a card, lives 72 hours: a card is not acted on later.
CARD_TTL = timedelta(hours=72)


def message_subject(message_id: int) -> str:
    return f"message:{message_id}"


async def add_message_cards(
    session: AsyncSession,
    message: OutreachMessage,
    job: Job,
    kind: HrCardKind,
    *,
    now: datetime,
    recipients: Sequence[int] | None = None,
) -> list[HrCard]:
    """Cards about a message awaiting approval, to `recipients` (by default the owning
    recruiter, else the team's recruiters, leads, admins: as an SLA warning is routed) on
    each platform they bound. A card already written for the same (subject, kind, user,
    platform) is not repeated."""
    if recipients is None:
        people = await hr_people(session, [job])
        recipients = people.recipients(SlaNotificationKind.WARN, job)
    return await _add_cards(
        session, message_subject(message.id), kind, recipients, now=now, message_id=message.id
    )


async def add_handoff_cards(
    session: AsyncSession, handoff: Handoff, application: Application, *, now: datetime
) -> list[HrCard]:
    """Cards telling the application's owning recruiter (routed as a draft is) that a
    conversation was handed to HR; they only open the conversation in the console."""
    job = await session.get_one(Job, application.job_id)
    people = await hr_people(session, [job])
    return await _add_cards(
        session,
        f"handoff:{handoff.id}",
        HrCardKind.HANDOFF,
        people.recipients(SlaNotificationKind.WARN, job),
        now=now,
        handoff_id=handoff.id,
    )


async def _add_cards(
    session: AsyncSession,
    subject: str,
    kind: HrCardKind,
    recipients: Sequence[int],
    *,
    now: datetime,
    message_id: int | None = None,
    handoff_id: int | None = None,
) -> list[HrCard]:
    if not recipients:
        return []
    accounts = (
        await session.scalars(
            select(HrChatAccount).where(HrChatAccount.user_id.in_(list(recipients)))
        )
    ).all()
    existing = set(
        (
            await session.execute(
                select(HrCard.recipient_id, HrCard.platform).where(
                    HrCard.subject_key == subject, HrCard.kind == kind
                )
            )
        ).all()
    )
    cards = []
    for account in accounts:
        if (account.user_id, account.platform) in existing:
            continue
        card = HrCard(
            kind=kind,
            platform=account.platform,
            recipient_id=account.user_id,
            subject_key=subject,
            message_id=message_id,
            handoff_id=handoff_id,
            token=secrets.token_urlsafe(24),
            state=HrCardState.OPEN,
            created_at=now,
            expires_at=now + CARD_TTL,
        )
        session.add(card)
        cards.append(card)
    if cards:
        log.info(
            "hr_chat.cards_written",
            subject=subject,
            kind=kind.value,
            recipients=sorted({c.recipient_id for c in cards}),
        )
    return cards


async def close_message_cards(
    session: AsyncSession,
    message_id: int,
    *,
    decision: str,
    decided_by: str,
    now: datetime,
) -> None:
    """The message was decided (anywhere): its open cards show the decision, and those
    already sent are queued for an update."""
    await session.execute(
        update(HrCard)
        .where(
            HrCard.subject_key == message_subject(message_id),
            HrCard.state == HrCardState.OPEN,
        )
        .values(
            state=HrCardState.DECIDED,
            decision=decision,
            decided_by=decided_by,
            decided_at=now,
            reason_wanted_until=None,
            update_pending=HrCard.sent_at.is_not(None),
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )


async def actor_name(session: AsyncSession, actor: str) -> str:
    """How a card names who decided: the HR user's display name, else the system actor."""
    kind, _, ident = actor.partition(":")
    if kind == "user" and ident.isdigit():
        from candor.models import HRUser

        user = await session.get(HRUser, int(ident))
        if user is not None:
            return user.display_name
    return actor
