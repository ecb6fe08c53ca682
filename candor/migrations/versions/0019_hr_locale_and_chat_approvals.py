"""HR users choose the console's language (NULL: the default, zh-CN), and may take approvals
in WeCom or Telegram: their chat accounts and the approval cards sent there (candor.hr_chat).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Expand only: the previous release keeps reading hr_users while this column is added.
    op.add_column("hr_users", sa.Column("locale", sa.String(length=16), nullable=True))
    # New tables only: the previous release never reads them.
    op.create_table(
        "hr_chat_accounts",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "platform",
            sa.Enum(
                "wecom",
                "telegram",
                name="hr_chat_platform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("bound_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["hr_users.id"],
            name=op.f("fk_hr_chat_accounts_user_id_hr_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_chat_accounts")),
        sa.UniqueConstraint("platform", "external_id", name=op.f("uq_hr_chat_accounts_platform")),
        sa.UniqueConstraint("user_id", "platform", name=op.f("uq_hr_chat_accounts_user_id")),
    )
    op.create_table(
        "hr_cards",
        sa.Column(
            "kind",
            sa.Enum(
                "draft",
                "handoff",
                "sla_warning",
                name="hr_card_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "platform",
            sa.Enum(
                "wecom",
                "telegram",
                name="hr_card_platform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "recipient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "handoff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "decided",
                "expired",
                name="hr_card_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("reason_wanted_until", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("platform_ref", sa.String(length=256), nullable=True),
        sa.Column("sent_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("update_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_hr_cards_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outreach_messages.id"],
            name=op.f("fk_hr_cards_message_id_outreach_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["hr_users.id"],
            name=op.f("fk_hr_cards_recipient_id_hr_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_cards")),
        sa.UniqueConstraint(
            "subject_key", "kind", "recipient_id", "platform", name=op.f("uq_hr_cards_subject_key")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_hr_cards_token")),
    )
    with op.batch_alter_table("hr_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hr_cards_message_id"), ["message_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hr_cards_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hr_cards_handoff_id"), ["handoff_id"], unique=False)
        batch_op.create_index(
            "ix_hr_cards_unsent_due", ["sent_at", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_hr_cards_update_due", ["update_pending", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hr_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_hr_cards_update_due")
        batch_op.drop_index("ix_hr_cards_unsent_due")
        batch_op.drop_index(batch_op.f("ix_hr_cards_handoff_id"))
        batch_op.drop_index(batch_op.f("ix_hr_cards_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_hr_cards_message_id"))

    op.drop_table("hr_cards")
    op.drop_table("hr_chat_accounts")
    op.drop_column("hr_users", "locale")
