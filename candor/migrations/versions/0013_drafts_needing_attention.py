"""Drafts needing attention: a result whose template failed to render waits for HR

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:00:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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


def _listed(states: tuple[str, ...]) -> str:
    return ", ".join(f"'{state}'" for state in states)


def _allow(states: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _allow_on_sqlite(states)
        return
    for table, checks in STATE_CHECKS.items():
        for column, constraint in checks:
            op.drop_constraint(op.f(constraint), table, type_="check")
            op.create_check_constraint(
                op.f(constraint), table, sa.text(f"{column} IN ({_listed(states)})")
            )


def _allow_on_sqlite(states: tuple[str, ...]) -> None:
    """Rewrite the CHECK constraints in the schema, as SQLite documents for changing one
    (https://sqlite.org/lang_altertable.html#otheralter): batch mode would copy
    outreach_messages, and dropping the original would cascade-delete its transitions,
    outbox rows and notices, and take the KPI triggers and views with it. Only the list of
    allowed values changes, and every stored value stays in it."""
    connection = op.get_bind()
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table, checks in STATE_CHECKS.items():
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
            for column, constraint in checks:
                sql, replaced = re.subn(
                    rf"(CONSTRAINT {constraint} CHECK \({column} IN \()[^)]*\)",
                    lambda match: f"{match.group(1)}{_listed(states)})",
                    sql,
                )
                if replaced != 1:
                    raise RuntimeError(f"{table}: constraint {constraint} not found")
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
            )
        connection.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    _allow(AFTER)
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
    _allow(BEFORE)
