"""HR users' chat accounts (WeCom, Telegram) and the approval cards sent to them there.

See candor/hr_chat: a card is written in the transaction of the event that warrants it and
sent after commit by the delivery loop (`sent_at`, `attempts`, `next_attempt_at` are its
outbox columns, as for `sla_notifications`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from candor.clock import utcnow
from candor.db.base import Base, IdMixin
from candor.db.types import UTCDateTime, enum_column
from candor.models.enums import HrCardKind, HrCardState, HrChatPlatform


class HrChatAccount(IdMixin, Base):
    """One HR user's account on one chat platform: a WeCom userid or a Telegram chat id."""

    __tablename__ = "hr_chat_accounts"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        UniqueConstraint("user_id", "platform"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id", ondelete="CASCADE"))
    platform: Mapped[HrChatPlatform] = mapped_column(
        enum_column(HrChatPlatform, "hr_chat_platform")
    )
    external_id: Mapped[str] = mapped_column(String(128))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HrCard(IdMixin, Base):
    """One card about one subject (`subject_key`, e.g. "message:12") to one HR user on one
    platform. `token` is the random, unguessable id the card's buttons carry (WeCom's
    task_id, Telegram's callback data); it is the only way a click names its card."""

    __tablename__ = "hr_cards"
    __table_args__ = (
        UniqueConstraint("subject_key", "kind", "recipient_id", "platform"),
        # The card queue's claim, polled every half second: unsent cards, and decided cards
        # whose update is pending, each due by next_attempt_at.
        Index("ix_hr_cards_unsent_due", "sent_at", "next_attempt_at"),
        Index("ix_hr_cards_update_due", "update_pending", "next_attempt_at"),
    )

    kind: Mapped[HrCardKind] = mapped_column(enum_column(HrCardKind, "hr_card_kind"))
    platform: Mapped[HrChatPlatform] = mapped_column(
        enum_column(HrChatPlatform, "hr_card_platform")
    )
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("hr_users.id", ondelete="CASCADE"), index=True
    )
    subject_key: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="CASCADE"), index=True
    )
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[HrCardState] = mapped_column(
        enum_column(HrCardState, "hr_card_state"), default=HrCardState.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who decided the subject and how ("approved by Li Na via wecom"), shown on the card.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(32))
    # A reject button asks for the reason; the recipient's next text until then is it.
    reason_wanted_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The platform's handle for updating the card: WeCom's response_code, Telegram's
    # "<chat id>:<message id>".
    platform_ref: Mapped[str | None] = mapped_column(String(256))
    # Outbox: sending the card, then (update_pending) updating it after a decision.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    update_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
