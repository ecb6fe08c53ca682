"""The key ids that have encrypted values, so a process missing one refuses to start.

Seeded with the key ids found in the sealed columns (empty on a database still in
plaintext); a small table, created in one short transaction.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the column's stored text): a sealed JSON value is a JSON string, '"enc:v1:...'.
_SEALED_TEXTS = (
    ("candidates", "mobile"),
    ("candidates", "email"),
    ("chat_identities", "external_user_id"),
    ("chat_deliveries", "recipient"),
    ("interviews", "report_summary"),
    ("interviews", "next_steps"),
    ("interviews", "CAST(strengths AS TEXT)"),
    ("interviews", "CAST(improvements AS TEXT)"),
)


def upgrade() -> None:
    op.create_table(
        "encryption_key_ids",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("first_used_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_encryption_key_ids")),
    )
    connection = op.get_bind()
    found: set[str] = set()
    for table, stored in _SEALED_TEXTS:
        # The key id follows the prefix, up to the next colon (ids are at most 16 long).
        prefixes = connection.execute(
            sa.text(
                f"SELECT DISTINCT substr(ltrim({stored}, '\"'), 8, 17) FROM {table} "  # noqa: S608
                f"WHERE ltrim({stored}, '\"') LIKE 'enc:v1:%'"
            )
        ).scalars()
        found.update(prefix.partition(":")[0] for prefix in prefixes if ":" in prefix)
    for key_id in sorted(found):
        connection.execute(
            sa.text(
                "INSERT INTO encryption_key_ids (key_id, first_used_at) "
                "VALUES (:key_id, CURRENT_TIMESTAMP)"
            ),
            {"key_id": key_id},
        )


def downgrade() -> None:
    op.drop_table("encryption_key_ids")
