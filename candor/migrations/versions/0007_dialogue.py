"""dialogue: conversation state, hand-offs, HR tasks, CSAT, job knowledge base, chat deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import candor.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("wechat", "telegram", "email", "web")
LOCALES = ("zh-CN", "en")


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
        "dialogue_states",
        sa.Column("conversation_id", _id(), nullable=False),
        sa.Column("slots", _json(), nullable=False),
        sa.Column("active_loop", sa.String(length=64), nullable=True),
        sa.Column("events", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _fk("dialogue_states", "conversation_id", "conversations", "CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_dialogue_states")),
    )

    op.create_table(
        "handoffs",
        sa.Column("conversation_id", _id(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("handoffs", "conversation_id", "conversations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index("ix_handoffs_conversation_closed", "handoffs", ["conversation_id", "closed_at"])

    op.create_table(
        "hr_tasks",
        sa.Column(
            "kind", _enum(("reschedule", "withdrawal", "handoff"), "hr_task_kind"), nullable=False
        ),
        sa.Column("team_id", _id(), nullable=True),
        sa.Column("candidate_id", _id(), nullable=True),
        sa.Column("application_id", _id(), nullable=True),
        sa.Column("conversation_id", _id(), nullable=True),
        sa.Column("details", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("done_at", _utc(), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("hr_tasks", "application_id", "applications", "SET NULL"),
        _fk("hr_tasks", "candidate_id", "candidates", "SET NULL"),
        _fk("hr_tasks", "conversation_id", "conversations", "SET NULL"),
        _fk("hr_tasks", "team_id", "teams", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_tasks")),
    )
    for column in ("team_id", "candidate_id", "application_id", "conversation_id", "created_at"):
        op.create_index(op.f(f"ix_hr_tasks_{column}"), "hr_tasks", [column])

    op.create_table(
        "csat_ratings",
        sa.Column("outreach_message_id", _id(), nullable=False),
        sa.Column("candidate_id", _id(), nullable=False),
        sa.Column("conversation_id", _id(), nullable=True),
        sa.Column("asked_at", _utc(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", _utc(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("csat_ratings", "candidate_id", "candidates", "CASCADE"),
        _fk("csat_ratings", "conversation_id", "conversations", "SET NULL"),
        _fk("csat_ratings", "outreach_message_id", "outreach_messages", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_ratings")),
        sa.UniqueConstraint(
            "outreach_message_id", name=op.f("uq_csat_ratings_outreach_message_id")
        ),
    )
    op.create_index(op.f("ix_csat_ratings_candidate_id"), "csat_ratings", ["candidate_id"])

    op.create_table(
        "job_answers",
        sa.Column("job_id", _id(), nullable=True),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("locale", _enum(LOCALES, "job_answer_locale"), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=False),
        sa.Column("approved_at", _utc(), nullable=False),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("job_answers", "job_id", "jobs", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_answers")),
        sa.UniqueConstraint("job_id", "topic", "locale", name=op.f("uq_job_answers_job_id")),
    )

    op.create_table(
        "job_questions",
        sa.Column("conversation_id", _id(), nullable=False),
        sa.Column("candidate_id", _id(), nullable=True),
        sa.Column("job_id", _id(), nullable=True),
        sa.Column("team_id", _id(), nullable=True),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("locale", _enum(LOCALES, "job_question_locale"), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("draft", sa.Text(), nullable=True),
        sa.Column(
            "state",
            _enum(("pending", "answered", "dismissed"), "job_question_state"),
            nullable=False,
        ),
        sa.Column("asked_at", _utc(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("job_questions", "candidate_id", "candidates", "SET NULL"),
        _fk("job_questions", "conversation_id", "conversations", "CASCADE"),
        _fk("job_questions", "job_id", "jobs", "SET NULL"),
        _fk("job_questions", "team_id", "teams", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_questions")),
    )
    op.create_index(op.f("ix_job_questions_conversation_id"), "job_questions", ["conversation_id"])
    op.create_index(op.f("ix_job_questions_team_id"), "job_questions", ["team_id"])
    op.create_index("ix_job_questions_state_asked", "job_questions", ["state", "asked_at"])

    op.create_table(
        "chat_deliveries",
        sa.Column("chat_message_id", _id(), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "chat_delivery_channel"), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("locale", _enum(LOCALES, "chat_delivery_locale"), nullable=False),
        sa.Column(
            "state", _enum(("pending", "sent", "failed"), "chat_delivery_state"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _fk("chat_deliveries", "chat_message_id", "chat_messages", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_deliveries")),
        sa.UniqueConstraint("chat_message_id", name=op.f("uq_chat_deliveries_chat_message_id")),
    )
    op.create_index("ix_chat_deliveries_due", "chat_deliveries", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("chat_deliveries")
    op.drop_table("job_questions")
    op.drop_table("job_answers")
    op.drop_table("csat_ratings")
    op.drop_table("hr_tasks")
    op.drop_table("handoffs")
    op.drop_table("dialogue_states")
