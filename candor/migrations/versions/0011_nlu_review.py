"""NLU review: misunderstood messages, reviewed models and the active-model pointer

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import candor.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _utc() -> candor.db.types.UTCDateTime:
    return candor.db.types.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "nlu_review_items",
        sa.Column("dedupe_key", sa.String(length=80), nullable=False),
        sa.Column("conversation_id", _id(), nullable=False),
        sa.Column("chat_message_id", _id(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("ranking", _json(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column(
            "state",
            _enum(("pending", "approved", "new_intent", "dismissed"), "nlu_review_state"),
            nullable=False,
        ),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("nlu_review_items", "chat_message_id", "chat_messages", "SET NULL"),
        _fk("nlu_review_items", "conversation_id", "conversations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_review_items")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_nlu_review_items_dedupe_key")),
    )
    op.create_index(
        op.f("ix_nlu_review_items_conversation_id"), "nlu_review_items", ["conversation_id"]
    )
    op.create_index(
        "ix_nlu_review_items_state_received", "nlu_review_items", ["state", "received_at"]
    )

    op.create_table(
        "nlu_models",
        sa.Column(
            "state",
            _enum(("candidate", "active", "retired", "discarded"), "nlu_model_state"),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("base_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("eval_digest", sa.String(length=64), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("figures", _json(), nullable=False),
        sa.Column("baseline_model_id", _id(), nullable=True),
        sa.Column("baseline_figures", _json(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=True),
        sa.Column("training_seconds", sa.Float(), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column("trained_at", _utc(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("nlu_models", "baseline_model_id", "nlu_models", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_models")),
    )
    op.create_index(op.f("ix_nlu_models_trained_at"), "nlu_models", ["trained_at"])

    op.create_table(
        "nlu_active_model",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", _id(), nullable=True),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", _utc(), nullable=False),
        _fk("nlu_active_model", "model_id", "nlu_models", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_active_model")),
    )


def downgrade() -> None:
    op.drop_table("nlu_active_model")
    op.drop_table("nlu_models")
    op.drop_index("ix_nlu_review_items_state_received", table_name="nlu_review_items")
    op.drop_index(op.f("ix_nlu_review_items_conversation_id"), table_name="nlu_review_items")
    op.drop_table("nlu_review_items")
