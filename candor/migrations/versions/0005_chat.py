"""chat: transcripts, binding tokens, manual binding, identity history, opt-out

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("wechat", "telegram", "email", "web")
IDENTITY_ACTIONS = (
    "bound",
    "rebound",
    "unbound",
    "replaced",
    "opted_out",
    "opted_in",
    "preference_changed",
)


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _utc() -> candor.db.types.UTCDateTime:
    return candor.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opted_out_at", _utc(), nullable=True))

    op.create_table(
        "conversations",
        sa.Column("chat_identity_id", _id(), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "conversation_channel"), nullable=False),
        sa.Column("candidate_id", _id(), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("last_message_at", _utc(), nullable=False),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_conversations_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["chat_identity_id"],
            ["chat_identities.id"],
            name=op.f("fk_conversations_chat_identity_id_chat_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("chat_identity_id", name=op.f("uq_conversations_chat_identity_id")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_last_message_at"), ["last_message_at"], unique=False
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", _id(), nullable=False),
        sa.Column("candidate_id", _id(), nullable=True),
        sa.Column("direction", _enum(("inbound", "outbound"), "direction"), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "message_channel"), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("reply_to_id", _id(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_chat_messages_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_messages_reply_to_id_chat_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "channel",
            "direction",
            "provider_message_id",
            name="uq_chat_messages_provider_message",
        ),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_messages_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            "ix_chat_messages_conversation_at", ["conversation_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_messages_reply_to_id"), ["reply_to_id"], unique=False
        )

    op.create_table(
        "binding_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("application_id", _id(), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "binding_channel"), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.Column("used_by_identity_id", _id(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_binding_tokens_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_identity_id"],
            ["chat_identities.id"],
            name=op.f("fk_binding_tokens_used_by_identity_id_chat_identities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_binding_tokens_token_hash")),
    )
    with op.batch_alter_table("binding_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_binding_tokens_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "manual_bindings",
        sa.Column("application_id", _id(), nullable=False),
        sa.Column("chat_identity_id", _id(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", _utc(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_manual_bindings_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chat_identity_id"],
            ["chat_identities.id"],
            name=op.f("fk_manual_bindings_chat_identity_id_chat_identities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_manual_bindings")),
    )

    op.create_table(
        "chat_identity_events",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("chat_identity_id", _id(), nullable=False),
        sa.Column("action", _enum(IDENTITY_ACTIONS, "identity_action"), nullable=False),
        sa.Column("candidate_id", _id(), nullable=True),
        sa.Column("previous_candidate_id", _id(), nullable=True),
        sa.Column("application_id", _id(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_chat_identity_events_application_id_applications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_chat_identity_events_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["chat_identity_id"],
            ["chat_identities.id"],
            name=op.f("fk_chat_identity_events_chat_identity_id_chat_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_candidate_id"],
            ["candidates.id"],
            name=op.f("fk_chat_identity_events_previous_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_identity_events")),
    )
    with op.batch_alter_table("chat_identity_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_identity_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_identity_events_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_identity_events_chat_identity_id"),
            ["chat_identity_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("chat_identity_events")
    op.drop_table("manual_bindings")
    op.drop_table("binding_tokens")
    op.drop_table("chat_messages")
    op.drop_table("conversations")
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_column("opted_out_at")
