"""Candidates and the chat identities bound to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import JSONType, UTCDateTime, enum_column
from candor.models.enums import Channel, Locale


class Candidate(IdMixin, TimestampMixin, Base):
    __tablename__ = "candidates"

    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "locale"), default=Locale.ZH_CN)
    # Consent is explicit per purpose (PIPL): contacting about this application, keeping the
    # candidate in the talent pool, and WeChat one-time subscription notifications.
    consent_contact: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_talent_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_wechat_subscription: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the candidate asked in chat to stop every proactive message, on all channels:
    # results are then not pushed anywhere, and can still be asked for in chat. Unlike the
    # consents above it is the candidate's word, so an ATS update never clears it.
    proactive_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the candidate replied "TD" / "退订" to an SMS: no more SMS, other channels stay.
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Channel names, most preferred first; the dispatcher falls back along this list.
    preferred_channels: Mapped[list[str]] = mapped_column(JSONType, default=list)

    chat_identities: Mapped[list[ChatIdentity]] = relationship(back_populates="candidate")


class ChatIdentity(IdMixin, TimestampMixin, Base):
    """A chat account (WeChat openid, Telegram user id, web session) and whom it belongs to."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)

    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    external_user_id: Mapped[str] = mapped_column(String(128))
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the candidate said STOP on this account: nothing is pushed to it until they
    # opt in again, and results go to their next channel (see docs/channels.md).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    candidate: Mapped[Candidate | None] = relationship(back_populates="chat_identities")
