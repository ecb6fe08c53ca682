"""The chat side: transcripts, binding tokens, manual binding, and identity history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base, IdMixin
from candor.db.types import BigIntId, JSONType, UTCDateTime, enum_column, utcnow
from candor.models.enums import Channel


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class IdentityAction(StrEnum):
    BOUND = "bound"
    REBOUND = "rebound"  # the identity belonged to another candidate before
    UNBOUND = "unbound"
    REPLACED = "replaced"  # unbound because the candidate bound another account on the channel
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    PREFERENCE_CHANGED = "preference_changed"


class Conversation(IdMixin, Base):
    """One chat identity's thread with Candor; it outlives rebinding, messages keep who it was."""

    __tablename__ = "conversations"

    chat_identity_id: Mapped[int] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="CASCADE"), unique=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "conversation_channel"))
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ConversationApplication(Base):
    """The application a conversation is about now: the one its account was bound through,
    or the one the dialogue last settled the candidate was asking about. It decides which
    team sees the conversation (`candor.chat.teams`); without a row (or once the account is
    someone else's) the candidate's latest application does."""

    __tablename__ = "conversation_applications"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatMessage(Base):
    """One message in a transcript, either way, as the candidate or Candor wrote it."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        # A provider's retry of the same message is recorded once (NULL ids never collide).
        UniqueConstraint(
            "channel",
            "direction",
            "provider_message_id",
            name="uq_chat_messages_provider_message",
        ),
        Index("ix_chat_messages_conversation_at", "conversation_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # Whom the conversation was bound to when the message was written; NULL while unbound.
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "direction"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "message_channel"))
    text: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str | None] = mapped_column(String(32))  # start, subscribe, button, ...
    # Buttons offered with an outbound message, or the payload of a pressed one.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    # Who wrote an outbound message: "system:chat", "engine:placeholder", "hr:42", ...
    author: Mapped[str | None] = mapped_column(String(100))
    # The inbound message an outbound one answers; an unanswered inbound message (the engine
    # failed) is answered when the provider redelivers it.
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="SET NULL"), index=True
    )
    # The application the conversation concerned when the message was written (a turn's
    # question and answers: the one the dialogue settled in that turn); NULL when it
    # concerned none. A team reads only the messages of its own applications and the
    # untagged ones (`candor.chat.teams.message_condition`). No foreign key: SQLite could
    # not add one without rebuilding the table (migration 0015); a deleted application's id
    # matches no team, so its messages are then an admin's only.
    application_id: Mapped[int | None] = mapped_column(BigIntId, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BindingToken(IdMixin, Base):
    """A single-use link token that binds a chat account to an application's candidate.

    Only the SHA-256 of the token is stored; the plaintext is shown once when issued.
    """

    __tablename__ = "binding_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "binding_channel"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="SET NULL")
    )


class ManualBinding(Base):
    """Manual binding state of one application: the e-mailed one-time code and the lockout.

    One row per application, so requesting a new code never resets the failure count.
    """

    __tablename__ = "manual_bindings"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    # The chat account that asked for the code; only it may redeem the code.
    chat_identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="SET NULL")
    )
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IdentityEvent(Base):
    """The audited history of a chat identity: binding, rebinding, unbinding, opt-out."""

    __tablename__ = "chat_identity_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    chat_identity_id: Mapped[int] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[IdentityAction] = mapped_column(enum_column(IdentityAction, "identity_action"))
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    previous_candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL")
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL")
    )
    # "candidate" (the account's owner, in chat), "cli", "hr:<id>", "system:..."
    actor: Mapped[str] = mapped_column(String(100))
    # How: "token", "manual_code", "command", "keyword", ...
    via: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
