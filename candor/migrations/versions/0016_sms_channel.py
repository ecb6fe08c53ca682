"""SMS: a channel candidates can choose, so every channel column allows 'sms'; and the
candidate's SMS opt-out ("TD" / "退订" replied to an SMS)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from candor.db.check_constraints import allow_values
from candor.db.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("wechat", "telegram", "email", "web")
AFTER = (*BEFORE, "sms")
# Every column typed by the Channel enum, with its CHECK constraint.
CHANNEL_CHECKS = {
    "chat_identities": (("channel", "ck_chat_identities_channel"),),
    "outreach_messages": (("channel", "ck_outreach_messages_delivered_channel"),),
    "outbox": (("channel", "ck_outbox_outbox_channel"),),
    "conversations": (("channel", "ck_conversations_conversation_channel"),),
    "chat_messages": (("channel", "ck_chat_messages_message_channel"),),
    "binding_tokens": (("channel", "ck_binding_tokens_binding_channel"),),
    "chat_deliveries": (("channel", "ck_chat_deliveries_chat_delivery_channel"),),
}


def upgrade() -> None:
    allow_values(CHANNEL_CHECKS, AFTER)
    # A nullable column is added in place on SQLite too (no table copy).
    op.add_column("candidates", sa.Column("sms_opted_out_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    # Without an SMS channel, what went by SMS is forgotten: the message keeps its state but
    # no longer names a channel, and SMS-only rows go.
    op.execute("UPDATE outreach_messages SET channel = NULL WHERE channel = 'sms'")
    for table in (
        "outbox",
        "chat_deliveries",
        "chat_messages",
        "binding_tokens",
        "conversations",
        "chat_identities",
    ):
        op.execute(
            sa.table(table, sa.column("channel")).delete().where(sa.column("channel") == "sms")
        )
    allow_values(CHANNEL_CHECKS, BEFORE)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE candidates DROP COLUMN sms_opted_out_at")
    else:
        op.drop_column("candidates", "sms_opted_out_at")
