"""HR notice for undeliverable messages

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_sla_notifications_sla_notification_kind"
BEFORE = ("warn", "escalate", "breach")
AFTER = (*BEFORE, "undeliverable")


def _allow(kinds: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    with op.batch_alter_table("sla_notifications") as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(CONSTRAINT), sa.text(f"kind IN ({listed})"))


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM sla_notifications WHERE kind = 'undeliverable'")
    _allow(BEFORE)
