"""Candidates and the chat identities bound to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from candor.crypto.fields import BLIND_INDEX_CHARS, SealedText, email_key, exact_key, phone_key
from candor.crypto.lookups import chat_id_index, email_index, index_on_insert, mobile_index
from candor.db.base import Base, IdMixin, TimestampMixin
from candor.db.types import JSONType, UTCDateTime, enum_column
from candor.models.enums import Channel, Locale


class Candidate(IdMixin, TimestampMixin, Base):
    __tablename__ = "candidates"

    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Sealed at rest (candor.crypto); exact lookups go through the blind indexes, which the
    # listeners below keep in step with every ORM write (Core writes set them themselves).
    mobile: Mapped[str | None] = mapped_column(
        SealedText(
            "candidates.mobile", String(32), blind_index_column="mobile_index", normalise=phone_key
        )
    )
    email: Mapped[str | None] = mapped_column(
        SealedText(
            "candidates.email", String(320), blind_index_column="email_index", normalise=email_key
        )
    )
    mobile_index: Mapped[str | None] = mapped_column(
        String(BLIND_INDEX_CHARS), index=True, default=index_on_insert("mobile", mobile_index)
    )
    email_index: Mapped[str | None] = mapped_column(
        String(BLIND_INDEX_CHARS), index=True, default=index_on_insert("email", email_index)
    )
    locale: Mapped[Locale] = mapped_column(enum_column(Locale, "locale"), default=Locale.ZH_CN)
    # The IANA zone the candidate lives in, when the ATS knows it: interview times are shown
    # in it (China time otherwise).
    time_zone: Mapped[str | None] = mapped_column(String(64))
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
    __table_args__ = (
        # The account's uniqueness is its blind index's. The constraint on the stored value
        # stays while rows written before 0020 may still be plaintext (their lookups use it,
        # and the previous release's racing inserts rely on it); a later release drops it.
        UniqueConstraint("channel", "external_user_id"),
        # A unique index, not a constraint: SQLite adds it without rebuilding the table.
        Index(
            "ix_chat_identities_channel_external_user_id_index",
            "channel",
            "external_user_id_index",
            unique=True,
        ),
    )

    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    external_user_id: Mapped[str] = mapped_column(
        SealedText(
            "chat_identities.external_user_id",
            String(128),
            blind_index_column="external_user_id_index",
            normalise=exact_key,
        )
    )
    external_user_id_index: Mapped[str | None] = mapped_column(
        String(BLIND_INDEX_CHARS), default=index_on_insert("external_user_id", chat_id_index)
    )
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the candidate said STOP on this account: nothing is pushed to it until they
    # opt in again, and results go to their next channel (see docs/channels.md).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    candidate: Mapped[Candidate | None] = relationship(back_populates="chat_identities")


@event.listens_for(Candidate.mobile, "set")
def _index_mobile(target: Candidate, value: str | None, _old: Any, _initiator: Any) -> None:
    target.mobile_index = mobile_index(value)


@event.listens_for(Candidate.email, "set")
def _index_email(target: Candidate, value: str | None, _old: Any, _initiator: Any) -> None:
    target.email_index = email_index(value)


@event.listens_for(ChatIdentity.external_user_id, "set")
def _index_chat_id(target: ChatIdentity, value: str | None, _old: Any, _initiator: Any) -> None:
    target.external_user_id_index = chat_id_index(value)
