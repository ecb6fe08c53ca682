"""Deletion requests (PIPL Art. 47) and the `candidate.deleted` webhook event

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import candor.db.types
from candor.db.check_constraints import allow_values

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OPEN = "state IN ('awaiting_confirmation', 'pending', 'erasing')"
EVENTS_BEFORE = (
    "message.delivered",
    "message.undeliverable",
    "candidate.replied",
    "candidate.opted_out",
    "candidate.withdrew",
    "interview.reschedule_requested",
    "csat.recorded",
    "handoff.opened",
    "handoff.closed",
)
EVENTS_AFTER = (*EVENTS_BEFORE, "candidate.deleted")
EVENT_CHECKS = {"webhook_events": (("type", "ck_webhook_events_webhook_event"),)}


def upgrade() -> None:
    # New table only, and one more allowed value: the previous release reads neither.
    op.create_table(
        "deletion_requests",
        sa.Column("candidate_id", ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "awaiting_confirmation",
                "pending",
                "erasing",
                "done",
                "cancelled",
                "expired",
                name="deletion_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("requested_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirm_by", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erase_after", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("legal_hold_since", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("legal_hold_by", sa.String(length=100), nullable=True),
        sa.Column("legal_hold_reason", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("subject", JSON, nullable=False),
        sa.Column("progress", JSON, nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_deletion_requests_candidate_id_candidates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_requests")),
    )
    op.create_index(
        op.f("ix_deletion_requests_candidate_id"), "deletion_requests", ["candidate_id"]
    )
    op.create_index(
        "ix_deletion_requests_state_erase_after", "deletion_requests", ["state", "erase_after"]
    )
    op.create_index(
        "uq_deletion_requests_open_candidate",
        "deletion_requests",
        ["candidate_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    allow_values(EVENT_CHECKS, EVENTS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM webhook_events WHERE type = 'candidate.deleted'")
    allow_values(EVENT_CHECKS, EVENTS_BEFORE)
    op.drop_index("uq_deletion_requests_open_candidate", table_name="deletion_requests")
    op.drop_index("ix_deletion_requests_state_erase_after", table_name="deletion_requests")
    op.drop_index(op.f("ix_deletion_requests_candidate_id"), table_name="deletion_requests")
    op.drop_table("deletion_requests")
