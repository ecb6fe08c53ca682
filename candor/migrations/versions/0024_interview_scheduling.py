"""Interview self-scheduling: slots, policies, invitations, bookings; candidates' time zone;
the interview.booked/moved/cancelled webhook events

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 13:19:29.176951
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import candor.db.types
from candor.db.check_constraints import allow_values

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
    "candidate.deleted",
)
EVENTS_AFTER = (*EVENTS_BEFORE, "interview.booked", "interview.moved", "interview.cancelled")
EVENT_CHECKS = {"webhook_events": (("type", "ck_webhook_events_webhook_event"),)}


def upgrade() -> None:
    # New tables and a nullable column only: the previous release reads none of them.
    op.create_table(
        "interview_slots",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ai_video",
                "phone",
                "onsite",
                name="slot_interview_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("video_link", sa.String(length=1000), nullable=True),
        sa.Column(
            "interviewers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "manual",
                "weekly",
                "ics",
                name="slot_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("external_uid", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("cancelled_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_interview_slots_capacity")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_interview_slots_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_interview_slots_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_slots")),
        sa.UniqueConstraint("job_id", "external_uid", name=op.f("uq_interview_slots_job_id")),
    )
    with op.batch_alter_table("interview_slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interview_slots_job_id_starts_at", ["job_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interview_slots_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "scheduling_policies",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "interview_kind",
            sa.Enum(
                "ai_video",
                "phone",
                "onsite",
                name="policy_interview_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("hold_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_hours", sa.Integer(), nullable=False),
        sa.Column("move_cutoff_hours", sa.Integer(), nullable=False),
        sa.Column("max_moves", sa.Integer(), nullable=False),
        sa.Column("offer_count", sa.Integer(), nullable=False),
        sa.Column("preparation", sa.Text(), nullable=False),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "hold_minutes BETWEEN 1 AND 1440", name=op.f("ck_scheduling_policies_hold_minutes")
        ),
        sa.CheckConstraint("max_moves >= 0", name=op.f("ck_scheduling_policies_max_moves")),
        sa.CheckConstraint(
            "min_notice_hours >= 0", name=op.f("ck_scheduling_policies_min_notice_hours")
        ),
        sa.CheckConstraint(
            "move_cutoff_hours >= 0", name=op.f("ck_scheduling_policies_move_cutoff_hours")
        ),
        sa.CheckConstraint(
            "offer_count BETWEEN 1 AND 10", name=op.f("ck_scheduling_policies_offer_count")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_scheduling_policies_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_scheduling_policies")),
    )
    op.create_table(
        "scheduling_invitations",
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ai_video",
                "phone",
                "onsite",
                name="invitation_interview_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "booked",
                "closed",
                name="invitation_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("invited_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_booked_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("booked_by_candidate", sa.Boolean(), nullable=True),
        sa.Column("moves", sa.Integer(), nullable=False),
        sa.Column(
            "outreach_message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "interview_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("closed_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_scheduling_invitations_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_scheduling_invitations_interview_id_interviews"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_scheduling_invitations_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outreach_message_id"],
            ["outreach_messages.id"],
            name=op.f("fk_scheduling_invitations_outreach_message_id_outreach_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_invitations")),
        sa.UniqueConstraint(
            "application_id", "round", name=op.f("uq_scheduling_invitations_application_id")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_scheduling_invitations_token")),
    )
    with op.batch_alter_table("scheduling_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduling_invitations_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_scheduling_invitations_invited_at"), ["invited_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_scheduling_invitations_job_id"), ["job_id"], unique=False
        )

    op.create_table(
        "interview_bookings",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "invitation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("slot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "held",
                "confirmed",
                "released",
                "moved",
                "cancelled",
                name="booking_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("held_until", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("booked_by", sa.String(length=100), nullable=False),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        sa.Column(
            "moved_to_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reminded_24h_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_2h_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "attendance",
            sa.Enum(
                "attended",
                "no_show",
                name="attendance",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("attendance_by", sa.String(length=100), nullable=True),
        sa.Column("attendance_at", candor.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("updated_at", candor.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seat >= 1", name=op.f("ck_interview_bookings_seat")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_interview_bookings_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["scheduling_invitations.id"],
            name=op.f("fk_interview_bookings_invitation_id_scheduling_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["moved_to_id"],
            ["interview_bookings.id"],
            name=op.f("fk_interview_bookings_moved_to_id_interview_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["interview_slots.id"],
            name=op.f("fk_interview_bookings_slot_id_interview_slots"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_bookings")),
        sa.UniqueConstraint("public_id", name=op.f("uq_interview_bookings_public_id")),
    )
    with op.batch_alter_table("interview_bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interview_bookings_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interview_bookings_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interview_bookings_invitation_id"), ["invitation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interview_bookings_slot_id"), ["slot_id"], unique=False
        )
        batch_op.create_index(
            "uq_interview_bookings_confirmed_invitation",
            ["invitation_id"],
            unique=True,
            sqlite_where=sa.text("state = 'confirmed'"),
            postgresql_where=sa.text("state = 'confirmed'"),
        )
        batch_op.create_index(
            "uq_interview_bookings_held_invitation",
            ["invitation_id"],
            unique=True,
            sqlite_where=sa.text("state = 'held'"),
            postgresql_where=sa.text("state = 'held'"),
        )
        batch_op.create_index(
            "uq_interview_bookings_live_seat",
            ["slot_id", "seat"],
            unique=True,
            sqlite_where=sa.text("state IN ('held', 'confirmed')"),
            postgresql_where=sa.text("state IN ('held', 'confirmed')"),
        )

    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    allow_values(EVENT_CHECKS, EVENTS_AFTER)


def downgrade() -> None:
    op.execute(
        "DELETE FROM webhook_events WHERE type IN "
        "('interview.booked', 'interview.moved', 'interview.cancelled')"
    )
    allow_values(EVENT_CHECKS, EVENTS_BEFORE)
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("time_zone")

    with op.batch_alter_table("interview_bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_interview_bookings_live_seat",
            sqlite_where=sa.text("state IN ('held', 'confirmed')"),
            postgresql_where=sa.text("state IN ('held', 'confirmed')"),
        )
        batch_op.drop_index(
            "uq_interview_bookings_held_invitation",
            sqlite_where=sa.text("state = 'held'"),
            postgresql_where=sa.text("state = 'held'"),
        )
        batch_op.drop_index(
            "uq_interview_bookings_confirmed_invitation",
            sqlite_where=sa.text("state = 'confirmed'"),
            postgresql_where=sa.text("state = 'confirmed'"),
        )
        batch_op.drop_index(batch_op.f("ix_interview_bookings_slot_id"))
        batch_op.drop_index(batch_op.f("ix_interview_bookings_invitation_id"))
        batch_op.drop_index(batch_op.f("ix_interview_bookings_created_at"))
        batch_op.drop_index(batch_op.f("ix_interview_bookings_application_id"))

    op.drop_table("interview_bookings")
    with op.batch_alter_table("scheduling_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduling_invitations_job_id"))
        batch_op.drop_index(batch_op.f("ix_scheduling_invitations_invited_at"))
        batch_op.drop_index(batch_op.f("ix_scheduling_invitations_application_id"))

    op.drop_table("scheduling_invitations")
    op.drop_table("scheduling_policies")
    with op.batch_alter_table("interview_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interview_slots_starts_at"))
        batch_op.drop_index("ix_interview_slots_job_id_starts_at")

    op.drop_table("interview_slots")
