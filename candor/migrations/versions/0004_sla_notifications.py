"""sla notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:40:56.541934
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_notifications",
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "warn",
                "escalate",
                "breach",
                name="sla_notification_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "recipient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outreach_messages.id"],
            name=op.f("fk_sla_notifications_message_id_outreach_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["hr_users.id"],
            name=op.f("fk_sla_notifications_recipient_id_hr_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_notifications")),
        sa.UniqueConstraint(
            "message_id", "kind", "recipient_id", name=op.f("uq_sla_notifications_message_id")
        ),
    )
    with op.batch_alter_table("sla_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sla_notifications_recipient_id"), ["recipient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_notifications_recipient_id"))

    op.drop_table("sla_notifications")
