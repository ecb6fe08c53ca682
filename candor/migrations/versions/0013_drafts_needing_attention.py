"""Drafts needing attention: a result whose template failed to render waits for HR

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from candor.db.check_constraints import allow_values

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_STATE = "needs_attention"
BEFORE = (
    "pending_approval",
    "approved",
    "edited_and_approved",
    "rejected",
    "queued",
    "sent",
    "delivered",
    "failed",
    "undeliverable",
)
AFTER = (*BEFORE, NEW_STATE)
# table -> its message-state columns and their CHECK constraints (the naming convention's).
STATE_CHECKS = {
    "outreach_messages": (("state", "ck_outreach_messages_message_state"),),
    "message_transitions": (
        ("from_state", "ck_message_transitions_transition_from"),
        ("to_state", "ck_message_transitions_transition_to"),
    ),
}


def upgrade() -> None:
    allow_values(STATE_CHECKS, AFTER)
    # A nullable column is added in place on SQLite too (no table copy).
    op.add_column(
        "outreach_messages",
        sa.Column(
            "render_error",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    # A draft that never rendered has no text to keep: it goes back to HR as rejected.
    op.execute(
        "UPDATE outreach_messages SET state = 'rejected', "
        "rejection_reason = 'its template failed to render' WHERE state = 'needs_attention'"
    )
    op.execute(
        "DELETE FROM message_transitions "
        "WHERE from_state = 'needs_attention' OR to_state = 'needs_attention'"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE outreach_messages DROP COLUMN render_error")
    else:
        op.drop_column("outreach_messages", "render_error")
    allow_values(STATE_CHECKS, BEFORE)
