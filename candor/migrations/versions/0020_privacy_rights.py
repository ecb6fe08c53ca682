"""Candidates' rights over their data (PIPL): the privacy notice each was shown (per version),
and their data exports behind single-use links.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 07:37:15.722889
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import candor.db.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New tables only: the previous release never reads them.
    op.create_table(
        "data_exports",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("downloaded_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_data_exports_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_data_exports_token_hash")),
    )
    with op.batch_alter_table("data_exports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_exports_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index("ix_data_exports_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "privacy_notices_shown",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "candidate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "wechat",
                "telegram",
                "email",
                "web",
                "sms",
                name="notice_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "locale",
            sa.Enum(
                "zh-CN",
                "en",
                name="notice_locale",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("shown_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_privacy_notices_shown_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_notices_shown")),
        sa.UniqueConstraint(
            "candidate_id", "version", name=op.f("uq_privacy_notices_shown_candidate_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("privacy_notices_shown")
    with op.batch_alter_table("data_exports", schema=None) as batch_op:
        batch_op.drop_index("ix_data_exports_expires_at")
        batch_op.drop_index(batch_op.f("ix_data_exports_candidate_id"))

    op.drop_table("data_exports")
