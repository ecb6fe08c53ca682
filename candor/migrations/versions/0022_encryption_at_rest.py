"""Encryption at rest: blind-index columns beside the sealed ones, room for ciphertext, and
the re-encryption pass's checkpoints.

Expand only, and no row is rewritten here: sealing the existing plaintext is the job of
`candor crypto reencrypt`, in batches, while the application runs (docs/operations.md), and
`candor crypto status` counts what is still plaintext. Readers take plaintext and
ciphertext alike until then, and lookups match a row by its blind index or, while that is
still NULL, by its plaintext.

On PostgreSQL nothing holds a lock on a big table for longer than a catalogue change: the
indexes are built and dropped CONCURRENTLY (outside the migration's transaction), and each
ALTER is its own short transaction that gives up after LOCK_TIMEOUT rather than queueing
every reader behind it. Each step is idempotent, so a run stopped by the timeout (a long
transaction held the table) is simply run again.

On PostgreSQL the sealed columns become TEXT (a sealed value is longer than the plaintext
its VARCHAR was sized for; VARCHAR to TEXT rewrites nothing). SQLite does not enforce a
VARCHAR's length, and changing a declared type would rebuild tables others reference (and
views read). The interview report's JSON lists keep their type: sealed, each is a JSON
string.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLIND_INDEX = sa.String(length=32)
_VARCHARS = (
    ("candidates", "mobile", 32),
    ("candidates", "email", 320),
    ("chat_identities", "external_user_id", 128),
    ("chat_deliveries", "recipient", 128),
)


# A statement that cannot get its lock in this time fails (run `candor db upgrade` again
# once the long transaction holding it has ended) instead of blocking the table's users.
LOCK_TIMEOUT = "5s"
_NEW_INDEXES = (
    ("ix_candidates_mobile_index", "candidates", "mobile_index", False),
    ("ix_candidates_email_index", "candidates", "email_index", False),
    ("ix_chat_deliveries_recipient_index", "chat_deliveries", "recipient_index", False),
    (
        "ix_chat_identities_channel_external_user_id_index",
        "chat_identities",
        "channel, external_user_id_index",
        True,
    ),
)
_NEW_COLUMNS = (
    ("candidates", "mobile_index"),
    ("candidates", "email_index"),
    ("chat_identities", "external_user_id_index"),
    ("chat_deliveries", "recipient_index"),
)


def _upgrade_postgres() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            for table, column in _NEW_COLUMNS:
                op.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} VARCHAR(32)")
            for name, table, columns, unique in _NEW_INDEXES:
                # An index a stopped run left INVALID is dropped and built again.
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                op.execute(
                    f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY {name} "
                    f"ON {table} ({columns})"
                )
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_candidates_mobile")
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_candidates_email")
            for table, column, _ in _VARCHARS:  # VARCHAR to TEXT: no rewrite
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE TEXT")
        finally:
            op.execute("RESET lock_timeout")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        op.add_column("candidates", sa.Column("mobile_index", BLIND_INDEX, nullable=True))
        op.add_column("candidates", sa.Column("email_index", BLIND_INDEX, nullable=True))
        op.add_column("chat_identities", sa.Column("external_user_id_index", BLIND_INDEX))
        op.add_column("chat_deliveries", sa.Column("recipient_index", BLIND_INDEX, nullable=True))
        # Plain indexes: CREATE INDEX needs no table rebuild on SQLite. The old ones indexed
        # values that become ciphertext, which no lookup compares any more.
        op.drop_index("ix_candidates_mobile", table_name="candidates")
        op.drop_index("ix_candidates_email", table_name="candidates")
        for name, table, columns, unique in _NEW_INDEXES:
            op.create_index(name, table, columns.split(", "), unique=unique)
    op.create_table(
        "encryption_checkpoints",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("target_key_id", sa.String(length=16), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("rows_changed", sa.Integer(), nullable=False),
        sa.Column("started_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_encryption_checkpoints")),
    )


def downgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    sealed = connection.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM candidates WHERE mobile LIKE 'enc:%' "
            "OR email LIKE 'enc:%') + (SELECT count(*) FROM chat_identities "
            "WHERE external_user_id LIKE 'enc:%') + (SELECT count(*) FROM interviews "
            "WHERE report_summary LIKE 'enc:%' OR next_steps LIKE 'enc:%' "
            "OR CAST(strengths AS TEXT) LIKE '\"enc:%' "
            "OR CAST(improvements AS TEXT) LIKE '\"enc:%') "
            "+ (SELECT count(*) FROM chat_deliveries WHERE recipient LIKE 'enc:%')"
        )
    ).scalar_one()
    if sealed:
        raise RuntimeError(
            f"{sealed} rows hold values sealed by encryption at rest; the schema before 0022 "
            "cannot read them. Restore the backup taken before the upgrade instead."
        )
    op.drop_table("encryption_checkpoints")
    if postgres:
        for table, column, length in _VARCHARS:
            op.alter_column(table, column, type_=sa.String(length=length), existing_type=sa.Text())
    op.drop_index("ix_chat_identities_channel_external_user_id_index", "chat_identities")
    op.drop_index("ix_chat_deliveries_recipient_index", table_name="chat_deliveries")
    op.drop_index("ix_candidates_email_index", table_name="candidates")
    op.drop_index("ix_candidates_mobile_index", table_name="candidates")
    op.create_index("ix_candidates_email", "candidates", ["email"])
    op.create_index("ix_candidates_mobile", "candidates", ["mobile"])
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would drop tables
    # that others reference.
    op.drop_column("chat_deliveries", "recipient_index")
    op.drop_column("chat_identities", "external_user_id_index")
    op.drop_column("candidates", "email_index")
    op.drop_column("candidates", "mobile_index")
