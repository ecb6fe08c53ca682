"""The delivery loop's queue of approval cards: send new ones, update decided ones.

Rows of `hr_cards` are claimed with a short lease (as `sla_notifications` are by
`candor.notify.hr_mail`), sent with no transaction open through the platform's
`CardSender`, and recorded: `sent_at` and the platform's handle on success; a decided card
that was sent gets `update_pending` until its update went out. Cards are claimed only after
the transaction that wrote them committed, and only for platforms this worker can reach. An
open card past `expires_at` is not sent. A card decided before it was sent is never sent.
A card the platform refuses for good (`Permanent`) is given up on at once, not retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor import metrics
from candor.clock import BUSINESS_TZ, utcnow
from candor.delivery.ports import Permanent, SendResult, Sent
from candor.hr_chat.actions import APPROVE, REJECT, status_text
from candor.hr_chat.ports import Card, CardSender
from candor.hr_chat.texts import text
from candor.logging import get_logger
from candor.models import (
    Application,
    Handoff,
    HandoffApplication,
    HrCard,
    HrChatAccount,
    HRUser,
    Job,
    OutreachMessage,
)
from candor.models.enums import HrCardKind, HrCardState, HrChatPlatform
from candor.runtime import Runtime

log = get_logger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 20  # then (or at once when refused for good) the card is left: the console
# and e-mail still tell HR
PREVIEW_CHARS = 120


@dataclass(frozen=True, slots=True)
class ClaimedCard:
    card_id: int
    platform: HrChatPlatform
    to: str
    update: bool
    ref: str | None
    card: Card
    delivery: None = None  # sent by the queue's own port (see DeliveryLoop's OwnSender)


def render_card(
    card: HrCard,
    user: HRUser,
    message: OutreachMessage,
    code: str,
    job_title: str,
    console_base: str,
) -> Card:
    locale = user.locale
    title_key = "sla_title" if card.kind is HrCardKind.SLA_WARNING else "draft_title"
    due = (
        message.due_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if message.due_at else "—"
    )
    preview = " ".join(message.body.split())
    if len(preview) > PREVIEW_CHARS:
        preview = preview[: PREVIEW_CHARS - 1] + "…"
    decided = card.state is HrCardState.DECIDED
    return Card(
        token=card.token,
        title=text(locale, title_key, code=code),
        description=preview,
        fields=(
            (text(locale, "job"), job_title),
            (text(locale, "outcome"), message.outcome.value),
            (text(locale, "due"), due),
        ),
        url=f"{console_base}/console/messages/{message.id}",
        open_label=text(locale, "open"),
        buttons=()
        if decided
        else ((APPROVE, text(locale, "approve")), (REJECT, text(locale, "reject"))),
        status=status_text(locale, card) if decided else None,
    )


async def _render(session: AsyncSession, card: HrCard, user: HRUser, base: str) -> Card | None:
    if card.message_id is not None:
        row = (
            await session.execute(
                select(OutreachMessage, Application.code, Job.title)
                .join(Application, Application.id == OutreachMessage.application_id)
                .join(Job, Job.id == Application.job_id)
                .where(OutreachMessage.id == card.message_id)
            )
        ).one_or_none()
        if row is None:
            return None
        message, code, title = row
        return render_card(card, user, message, code, title, base)
    if card.handoff_id is not None:
        handoff_row = (
            await session.execute(
                select(Handoff, Application.code, Job.title)
                .join(HandoffApplication, HandoffApplication.handoff_id == Handoff.id)
                .join(Application, Application.id == HandoffApplication.application_id)
                .join(Job, Job.id == Application.job_id)
                .where(Handoff.id == card.handoff_id)
            )
        ).first()
        if handoff_row is None:
            return None
        handoff, code, title = handoff_row
        return render_handoff_card(card, user, handoff, code, title, base)
    return None


def render_handoff_card(
    card: HrCard, user: HRUser, handoff: Handoff, code: str, job_title: str, console_base: str
) -> Card:
    locale = user.locale
    since = handoff.opened_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    return Card(
        token=card.token,
        title=text(locale, "handoff_title", code=code),
        description=handoff.reason[:PREVIEW_CHARS],
        fields=((text(locale, "job"), job_title), (text(locale, "since"), since)),
        url=f"{console_base}/console/conversations/{handoff.conversation_id}",
        open_label=text(locale, "open"),
        buttons=(),
    )


class HrCardQueue:
    """`hr_cards` as a queue of the delivery loop, over one `CardSender` per platform."""

    name = "hr_cards"

    def __init__(
        self,
        runtime: Runtime,
        senders: Mapping[HrChatPlatform, CardSender],
        *,
        batch_size: int = 100,
    ) -> None:
        self.runtime = runtime
        self.senders = senders
        self.batch_size = batch_size
        self.sent = 0

    async def claim_due(self) -> list[ClaimedCard]:
        if not self.senders:
            return []
        now = utcnow()
        base = self.runtime.settings.public_url.rstrip("/")
        async with self.runtime.transaction() as session:
            query = (
                select(HrCard, HrChatAccount.external_id, HRUser)
                .join(
                    HrChatAccount,
                    and_(
                        HrChatAccount.user_id == HrCard.recipient_id,
                        HrChatAccount.platform == HrCard.platform,
                    ),
                )
                .join(HRUser, HRUser.id == HrCard.recipient_id)
                .where(
                    HrCard.platform.in_(list(self.senders)),
                    or_(
                        and_(
                            HrCard.sent_at.is_(None),
                            HrCard.state == HrCardState.OPEN,
                            HrCard.expires_at > now,
                        ),
                        HrCard.update_pending.is_(True),
                    ),
                    or_(HrCard.next_attempt_at.is_(None), HrCard.next_attempt_at <= now),
                    HrCard.attempts < MAX_ATTEMPTS,
                    HRUser.is_active.is_(True),
                )
                .order_by(HrCard.id)
                .limit(self.batch_size)
            )
            if not self.runtime.settings.uses_sqlite:
                query = query.with_for_update(of=HrCard, skip_locked=True)
            claimed = []
            for card, external_id, user in (await session.execute(query)).all():
                card.attempts += 1
                card.next_attempt_at = now + LEASE
                rendered = await _render(session, card, user, base)
                if rendered is None:  # its subject is gone: nothing to show
                    card.state, card.update_pending = HrCardState.EXPIRED, False
                    continue
                claimed.append(
                    ClaimedCard(
                        card_id=card.id,
                        platform=card.platform,
                        to=external_id,
                        update=card.sent_at is not None,
                        ref=card.platform_ref,
                        card=rendered,
                    )
                )
        return claimed

    async def send_one(self, claimed: ClaimedCard) -> SendResult:
        sender = self.senders[claimed.platform]
        if claimed.update:
            return await sender.update_card(claimed.to, claimed.ref or "", claimed.card)
        return await sender.send_card(claimed.to, claimed.card)

    async def record_outcomes(self, outcomes: Sequence[tuple[ClaimedCard, SendResult]]) -> None:
        if not outcomes:
            return
        now = utcnow()
        async with self.runtime.transaction() as session:
            for claimed, outcome in outcomes:
                card = await session.get_one(HrCard, claimed.card_id)
                if isinstance(outcome, Sent):
                    if claimed.update:
                        card.update_pending = False
                    else:
                        card.sent_at = now
                        card.platform_ref = outcome.provider_message_id
                        # Decided while it was being sent: it still needs its update.
                        card.update_pending = card.state is not HrCardState.OPEN
                    card.attempts, card.next_attempt_at, card.last_error = 0, None, None
                    self.sent += 1
                    continue
                card.last_error = outcome.reason
                if isinstance(outcome, Permanent):
                    # Refused for good (blocked bot, WeCom refusal, nothing to update): a
                    # retry would fail the same way, so the card is given up on.
                    card.attempts, card.next_attempt_at = MAX_ATTEMPTS, None
                    card.update_pending = False
                    log.error(
                        "hr_chat.card_refused",
                        card_id=claimed.card_id,
                        platform=claimed.platform.value,
                        update=claimed.update,
                        reason=outcome.reason,
                    )
                    continue
                card.next_attempt_at = now + timedelta(seconds=max(outcome.seconds, 1.0))
                log.warning(
                    "hr_chat.card_failed",
                    card_id=claimed.card_id,
                    platform=claimed.platform.value,
                    outcome=type(outcome).__name__,
                    reason=outcome.reason,
                )
        for claimed, outcome in outcomes:
            if isinstance(outcome, Sent):
                metrics.delivered(self.name, claimed.platform.value)
            elif isinstance(outcome, Permanent):
                metrics.failed(self.name, claimed.platform.value, outcome.reason)
            else:
                metrics.retried(self.name, claimed.platform.value, outcome.reason)
