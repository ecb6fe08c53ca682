"""The application a conversation and each hand-off concern, which decides their team

A conversation used to belong to the team of its candidate's latest application; it now
follows the application it concerns (`conversation_applications`; the latest one while it
has no row, as before), and a hand-off the application its conversation concerned when it
was opened (`handoff_applications`). The KPI facts of conversations and hand-offs follow the
same rule: their views are redefined and the new tables refresh them like 0009's triggers.

New tables rather than columns: SQLite can add a foreign-key column only unnamed, and
rebuilding `conversations` there would cascade into its messages.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:00:00
"""

# Only module constants are interpolated into the SQL below.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import candor.db.types
from candor.db.types import BigIntId

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATEST = """(SELECT l.id FROM applications l WHERE l.candidate_id = c.candidate_id
                ORDER BY l.applied_at DESC, l.id DESC LIMIT 1)"""
# The recorded application counts only while it is the candidate's own (the account may
# have been bound to someone else since).
CONCERNED = f"""COALESCE((SELECT o.id FROM conversation_applications ca
                JOIN applications o ON o.id = ca.application_id
                WHERE ca.conversation_id = c.id AND o.candidate_id = c.candidate_id), {LATEST})"""
OF_HANDOFF = f"""COALESCE((SELECT ha.application_id FROM handoff_applications ha
                WHERE ha.handoff_id = h.id), {CONCERNED})"""

COLUMNS = {
    "conversation": "conversation_id, candidate_id, application_id, job_id, started_on, escalated",
    "handoff": "handoff_id, conversation_id, candidate_id, job_id, opened_on, response_us",
}
# (table, the columns whose update matters, the facts to refresh: (fact, fact column, base
# column)), as in 0009.
TRIGGERS: list[tuple[str, tuple[str, ...], list[tuple[str, str, str]]]] = [
    (
        "conversation_applications",
        ("conversation_id", "application_id"),
        [
            ("conversation", "conversation_id", "conversation_id"),
            ("handoff", "conversation_id", "conversation_id"),
        ],
    ),
    (
        "handoff_applications",
        ("handoff_id", "application_id"),
        [("handoff", "handoff_id", "handoff_id")],
    ),
]


def _views(dialect: str, *, concerned: bool) -> dict[str, str]:
    """The two facts' definitions (0009's), by the concerned application or the latest."""
    if dialect == "sqlite":

        def day(at: str) -> str:
            return f"date({at}, '+8 hours')"

        def micros(later: str, earlier: str) -> str:
            return (
                f"((strftime('%s', {later}) - strftime('%s', {earlier})) * 1000000"
                f" + CAST(substr({later}, 21, 6) AS INTEGER)"
                f" - CAST(substr({earlier}, 21, 6) AS INTEGER))"
            )

    else:

        def day(at: str) -> str:
            return f"(({at}) AT TIME ZONE 'Asia/Shanghai')::date"

        def micros(later: str, earlier: str) -> str:
            return f"(extract(epoch from ({later}) - ({earlier})) * 1000000)::bigint"

    return {
        "conversation": f"""
            SELECT c.id AS conversation_id, c.candidate_id, a.id AS application_id, a.job_id,
                {day("c.started_at")} AS started_on,
                (EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = c.id)
                 OR EXISTS (SELECT 1 FROM hr_tasks t WHERE t.conversation_id = c.id)
                 OR EXISTS (SELECT 1 FROM job_questions q WHERE q.conversation_id = c.id))
                    AS escalated
            FROM conversations c
            JOIN applications a ON a.id = {CONCERNED if concerned else LATEST}""",
        "handoff": f"""
            SELECT h.id AS handoff_id, h.conversation_id, c.candidate_id, a.job_id,
                {day("h.opened_at")} AS opened_on,
                {micros("h.first_reply_at", "h.opened_at")} AS response_us
            FROM (
                SELECT h.*, (
                    SELECT min(r.at) FROM chat_messages r
                    WHERE r.conversation_id = h.conversation_id AND r.direction = 'outbound'
                        AND r.author LIKE 'user:%' AND r.at >= h.opened_at
                        AND (h.closed_at IS NULL OR r.at <= h.closed_at)
                ) AS first_reply_at
                FROM handoffs h
            ) h
            JOIN conversations c ON c.id = h.conversation_id
            JOIN applications a ON a.id = {OF_HANDOFF if concerned else LATEST}""",
    }


def _redefine_views(dialect: str, *, concerned: bool) -> None:
    """Replace the two views and rebuild their facts from them."""
    for fact, sql in _views(dialect, concerned=concerned).items():
        op.execute(f"DROP VIEW v_kpi_{fact}_facts")
        op.execute(f"CREATE VIEW v_kpi_{fact}_facts AS {sql}")
        cols = COLUMNS[fact]
        op.execute(f"DELETE FROM kpi_{fact}_facts")
        op.execute(f"INSERT INTO kpi_{fact}_facts ({cols}) SELECT {cols} FROM v_kpi_{fact}_facts")


def _refresh(fact: str, column: str, value: str) -> str:
    cols = COLUMNS[fact]
    return (
        f"DELETE FROM kpi_{fact}_facts WHERE {column} = {value};\n"
        f"INSERT INTO kpi_{fact}_facts ({cols}) SELECT {cols} FROM v_kpi_{fact}_facts "
        f"WHERE {column} = {value};\n"
    )


def _create_triggers(dialect: str) -> None:
    for table, columns, refreshes in TRIGGERS:
        of = ", ".join(columns)
        if dialect == "sqlite":
            for event, rows in (
                ("INSERT", ("NEW",)),
                (f"UPDATE OF {of}", ("OLD", "NEW")),
                ("DELETE", ("OLD",)),
            ):
                body = "".join(
                    _refresh(fact, column, f"{row}.{base}")
                    for row in rows
                    for fact, column, base in refreshes
                )
                op.execute(
                    f"CREATE TRIGGER kpi_{table}_{event.split()[0].lower()} AFTER {event} "
                    f"ON {table} FOR EACH ROW BEGIN\n{body}END"
                )
            continue
        new = "".join(_refresh(f, c, f"NEW.{b}") for f, c, b in refreshes)
        old = "".join(_refresh(f, c, f"OLD.{b}") for f, c, b in refreshes)
        keys = sorted({b for _, _, b in refreshes})
        changed = " OR ".join(f"OLD.{b} IS DISTINCT FROM NEW.{b}" for b in keys)
        op.execute(
            f"""
            CREATE FUNCTION kpi_facts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND ({changed})) THEN
                    {old}
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    {new}
                END IF;
                RETURN NULL;
            END $$"""
        )
        op.execute(
            f"CREATE TRIGGER kpi_facts AFTER INSERT OR DELETE OR UPDATE OF {of} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION kpi_facts_{table}()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "conversation_applications",
        sa.Column("conversation_id", BigIntId, nullable=False),
        sa.Column("application_id", BigIntId, nullable=False),
        sa.Column("at", candor.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_conversation_applications_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_applications_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_applications")),
    )
    op.create_index(
        op.f("ix_conversation_applications_application_id"),
        "conversation_applications",
        ["application_id"],
    )
    op.create_table(
        "handoff_applications",
        sa.Column("handoff_id", BigIntId, nullable=False),
        sa.Column("application_id", BigIntId, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_handoff_applications_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_applications_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handoff_id", name=op.f("pk_handoff_applications")),
    )
    op.create_index(
        op.f("ix_handoff_applications_application_id"), "handoff_applications", ["application_id"]
    )
    _redefine_views(dialect, concerned=True)
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, _, _ in TRIGGERS:
        if dialect == "sqlite":
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER kpi_{table}_{event}")
        else:
            op.execute(f"DROP TRIGGER kpi_facts ON {table}")
            op.execute(f"DROP FUNCTION kpi_facts_{table}()")
    _redefine_views(dialect, concerned=False)
    op.drop_index(op.f("ix_handoff_applications_application_id"), table_name="handoff_applications")
    op.drop_table("handoff_applications")
    op.drop_index(
        op.f("ix_conversation_applications_application_id"),
        table_name="conversation_applications",
    )
    op.drop_table("conversation_applications")
