"""One delivery path: binding codes and HR notices go through the delivery loop

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types
from candor.db.types import BigIntId

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_deliveries") as batch_op:
        # A binding code by e-mail is a delivery with no transcript row.
        batch_op.alter_column("chat_message_id", existing_type=BigIntId, nullable=True)
        batch_op.add_column(
            sa.Column("subject", sa.String(length=300), server_default="", nullable=False)
        )
    with op.batch_alter_table("sla_notifications") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_attempt_at", candor.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_notifications") as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    op.execute("DELETE FROM chat_deliveries WHERE chat_message_id IS NULL")
    with op.batch_alter_table("chat_deliveries") as batch_op:
        batch_op.drop_column("subject")
        batch_op.alter_column("chat_message_id", existing_type=BigIntId, nullable=False)
