"""SMS template form: each template version may name the provider's pre-approved template
code, a Jinja source per template variable and the approved text for previews; each message
keeps its rendered SMS parameters

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-02 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from candor.db.types import JSONType

revision: str = "0019"
# Written in parallel with 0017 and 0018: re-chained onto whichever lands last.
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = {
    "message_templates": ("sms_template_code", "sms_params", "sms_preview_text"),
    "outreach_messages": ("sms_params",),
}


def upgrade() -> None:
    # Nullable, or with a default: added in place on SQLite too (no table copy).
    op.add_column("message_templates", sa.Column("sms_template_code", sa.String(64)))
    op.add_column(
        "message_templates",
        sa.Column("sms_params", JSONType, nullable=False, server_default="{}"),
    )
    op.add_column("message_templates", sa.Column("sms_preview_text", sa.Text()))
    op.add_column(
        "outreach_messages",
        sa.Column("sms_params", JSONType, nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            if sqlite:
                op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            else:
                op.drop_column(table, column)
