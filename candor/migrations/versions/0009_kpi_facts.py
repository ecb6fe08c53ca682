"""KPI facts: narrow per-record tables kept by triggers, for fast dashboards

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 06:10:00

Each `kpi_<name>_facts` table is defined by a view `v_kpi_<name>_facts` over the base
tables. Triggers on every base table a fact depends on delete the dependent facts and
re-insert them from the view, in the writing transaction, so every write path (ORM, Core
updates, bulk SQL) keeps them exact. `candor kpis rebuild` refills them from the views.
"""

# Only module constants are interpolated into the SQL below.
# ruff: noqa: S608

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REPLY_WINDOW_DAYS = 7

# name -> (columns: (name, type, nullable); indexes: (suffix, columns)). The first column
# is the primary key.
TABLES: dict[
    str, tuple[list[tuple[str, sa.types.TypeEngine[Any], bool]], list[tuple[str, list[str]]]]
] = {
    "interview": (
        [
            ("interview_id", ID, False),
            ("application_id", ID, False),
            ("job_id", ID, False),
            ("completed_on", sa.Date(), False),
            ("sent_on", sa.Date(), True),
            ("due_on", sa.Date(), True),
        ],
        [
            ("completed", ["completed_on", "job_id", "sent_on", "due_on"]),
            ("application", ["application_id"]),
        ],
    ),
    "application": (
        [
            ("application_id", ID, False),
            ("candidate_id", ID, False),
            ("job_id", ID, False),
            ("applied_on", sa.Date(), False),
            ("stage", sa.String(32), False),
            ("ai_interview_done", sa.Boolean(), False),
            ("result_sent", sa.Boolean(), False),
        ],
        [("applied", ["applied_on", "job_id", "stage", "ai_interview_done", "result_sent"])],
    ),
    "reply": (
        [
            ("message_id", ID, False),
            ("application_id", ID, False),
            ("candidate_id", ID, False),
            ("job_id", ID, False),
            ("sent_on", sa.Date(), False),
            ("replied", sa.Boolean(), False),
        ],
        [
            ("sent", ["sent_on", "job_id", "replied"]),
            ("candidate", ["candidate_id"]),
            ("application", ["application_id"]),
        ],
    ),
    "conversation": (
        [
            ("conversation_id", ID, False),
            ("candidate_id", ID, False),
            ("application_id", ID, False),
            ("job_id", ID, False),
            ("started_on", sa.Date(), False),
            ("escalated", sa.Boolean(), False),
        ],
        [("started", ["started_on", "job_id", "escalated"]), ("candidate", ["candidate_id"])],
    ),
    "handoff": (
        [
            ("handoff_id", ID, False),
            ("conversation_id", ID, False),
            ("candidate_id", ID, False),
            ("job_id", ID, False),
            ("opened_on", sa.Date(), False),
            ("response_us", sa.BigInteger(), True),
        ],
        [
            ("opened", ["opened_on", "job_id", "response_us"]),
            ("conversation", ["conversation_id"]),
            ("candidate", ["candidate_id"]),
        ],
    ),
    "approval": (
        [
            ("message_id", ID, False),
            ("application_id", ID, False),
            ("job_id", ID, False),
            ("decided_on", sa.Date(), False),
            ("latency_us", sa.BigInteger(), False),
        ],
        [("decided", ["decided_on", "job_id", "latency_us"]), ("application", ["application_id"])],
    ),
    "csat": (
        [
            ("csat_id", ID, False),
            ("message_id", ID, False),
            ("interview_id", ID, True),
            ("application_id", ID, False),
            ("job_id", ID, False),
            ("outcome", sa.String(32), False),
            ("asked_on", sa.Date(), False),
            ("rating", sa.Integer(), True),
            ("completed_on", sa.Date(), True),
            ("sent_on", sa.Date(), True),
            ("due_on", sa.Date(), True),
        ],
        [
            (
                "asked",
                ["asked_on", "job_id", "outcome", "completed_on", "sent_on", "due_on", "rating"],
            ),
            ("application", ["application_id"]),
            ("interview", ["interview_id"]),
            ("message", ["message_id"]),
        ],
    ),
    "delivery": (
        [
            ("outbox_id", ID, False),
            ("message_id", ID, False),
            ("application_id", ID, False),
            ("job_id", ID, False),
            ("channel", sa.String(32), False),
            ("state", sa.String(32), False),
            ("created_on", sa.Date(), False),
        ],
        [
            ("created", ["created_on", "job_id", "channel", "state"]),
            ("application", ["application_id"]),
        ],
    ),
}


def _columns(fact: str) -> str:
    return ", ".join(name for name, _, _ in TABLES[fact][0])


def _views(dialect: str) -> dict[str, str]:
    """The facts' definitions. Only dates and durations are written per dialect: SQLite keeps
    UTC text with microseconds, and China has kept UTC+8 all year since 1991."""
    if dialect == "sqlite":

        def day(at: str) -> str:
            return f"date({at}, '+8 hours')"

        def micros(later: str, earlier: str) -> str:
            return (
                f"((strftime('%s', {later}) - strftime('%s', {earlier})) * 1000000"
                f" + CAST(substr({later}, 21, 6) AS INTEGER)"
                f" - CAST(substr({earlier}, 21, 6) AS INTEGER))"
            )

        window_end = f"datetime(m.sent_at, '+{REPLY_WINDOW_DAYS} days')"
    else:

        def day(at: str) -> str:
            return f"(({at}) AT TIME ZONE 'Asia/Shanghai')::date"

        def micros(later: str, earlier: str) -> str:
            return f"(extract(epoch from ({later}) - ({earlier})) * 1000000)::bigint"

        window_end = f"(m.sent_at + interval '{REPLY_WINDOW_DAYS} days')"

    def first_sent(interview: str) -> str:
        return day(
            f"(SELECT min(o.sent_at) FROM outreach_messages o WHERE o.interview_id = {interview})"
        )

    def stated_due(interview: str) -> str:
        return day(
            f"(SELECT min(o.due_at) FROM outreach_messages o WHERE o.interview_id = {interview})"
        )

    latest_application = """applications a ON a.id = (
                SELECT l.id FROM applications l WHERE l.candidate_id = c.candidate_id
                ORDER BY l.applied_at DESC, l.id DESC LIMIT 1)"""
    return {
        "interview": f"""
            SELECT i.id AS interview_id, i.application_id, a.job_id,
                {day("i.completed_at")} AS completed_on,
                {first_sent("i.id")} AS sent_on, {stated_due("i.id")} AS due_on
            FROM interviews i JOIN applications a ON a.id = i.application_id
            WHERE i.completed_at IS NOT NULL""",
        "application": f"""
            SELECT a.id AS application_id, a.candidate_id, a.job_id,
                {day("a.applied_at")} AS applied_on, a.stage,
                EXISTS (SELECT 1 FROM interviews i WHERE i.application_id = a.id
                        AND i.kind = 'ai_video' AND i.completed_at IS NOT NULL)
                    AS ai_interview_done,
                EXISTS (SELECT 1 FROM outreach_messages m WHERE m.application_id = a.id
                        AND m.sent_at IS NOT NULL) AS result_sent
            FROM applications a""",
        "reply": f"""
            SELECT m.id AS message_id, m.application_id, a.candidate_id, a.job_id,
                {day("m.sent_at")} AS sent_on,
                EXISTS (SELECT 1 FROM chat_messages c WHERE c.candidate_id = a.candidate_id
                        AND c.direction = 'inbound' AND c.at > m.sent_at
                        AND c.at < {window_end}) AS replied
            FROM outreach_messages m JOIN applications a ON a.id = m.application_id
            WHERE m.sent_at IS NOT NULL""",
        "conversation": f"""
            SELECT c.id AS conversation_id, c.candidate_id, a.id AS application_id, a.job_id,
                {day("c.started_at")} AS started_on,
                (EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = c.id)
                 OR EXISTS (SELECT 1 FROM hr_tasks t WHERE t.conversation_id = c.id)
                 OR EXISTS (SELECT 1 FROM job_questions q WHERE q.conversation_id = c.id))
                    AS escalated
            FROM conversations c JOIN {latest_application}""",
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
            JOIN {latest_application}""",
        "approval": f"""
            SELECT m.id AS message_id, m.application_id, a.job_id,
                {day("m.decided_at")} AS decided_on,
                {micros("m.decided_at", "m.created_at")} AS latency_us
            FROM outreach_messages m JOIN applications a ON a.id = m.application_id
            WHERE m.decided_by LIKE 'user:%' AND m.decided_at IS NOT NULL""",
        "csat": f"""
            SELECT r.id AS csat_id, r.outreach_message_id AS message_id, m.interview_id,
                m.application_id, a.job_id, m.outcome, {day("r.asked_at")} AS asked_on,
                r.rating, {day("i.completed_at")} AS completed_on,
                {first_sent("m.interview_id")} AS sent_on,
                {stated_due("m.interview_id")} AS due_on
            FROM csat_ratings r
            JOIN outreach_messages m ON m.id = r.outreach_message_id
            JOIN applications a ON a.id = m.application_id
            LEFT JOIN interviews i ON i.id = m.interview_id""",
        "delivery": f"""
            SELECT o.id AS outbox_id, o.message_id, m.application_id, a.job_id, o.channel,
                o.state, {day("o.created_at")} AS created_on
            FROM outbox o
            JOIN outreach_messages m ON m.id = o.message_id
            JOIN applications a ON a.id = m.application_id""",
    }


# (base table, the columns whose update matters, the facts to refresh: (fact, fact column,
# base column)). A write refreshes the facts of the old and the new row.
TRIGGERS: list[tuple[str, tuple[str, ...], list[tuple[str, str, str]]]] = [
    (
        "interviews",
        ("application_id", "completed_at", "kind"),
        [
            ("interview", "interview_id", "id"),
            ("application", "application_id", "application_id"),
            ("csat", "interview_id", "id"),
        ],
    ),
    (
        "outreach_messages",
        (
            "application_id",
            "interview_id",
            "sent_at",
            "due_at",
            "outcome",
            "decided_by",
            "decided_at",
            "created_at",
        ),
        [
            ("interview", "interview_id", "interview_id"),
            ("application", "application_id", "application_id"),
            ("reply", "message_id", "id"),
            ("approval", "message_id", "id"),
            ("csat", "interview_id", "interview_id"),
            ("csat", "message_id", "id"),
        ],
    ),
    (
        "applications",
        ("candidate_id", "job_id", "applied_at", "stage"),
        [
            ("application", "application_id", "id"),
            ("interview", "application_id", "id"),
            ("reply", "application_id", "id"),
            ("approval", "application_id", "id"),
            ("csat", "application_id", "id"),
            ("delivery", "application_id", "id"),
            ("conversation", "candidate_id", "candidate_id"),
            ("handoff", "candidate_id", "candidate_id"),
        ],
    ),
    (
        "chat_messages",
        ("candidate_id", "conversation_id", "direction", "author", "at"),
        [
            ("reply", "candidate_id", "candidate_id"),
            ("handoff", "conversation_id", "conversation_id"),
        ],
    ),
    (
        "conversations",
        ("candidate_id", "started_at"),
        [("conversation", "conversation_id", "id"), ("handoff", "conversation_id", "id")],
    ),
    (
        "handoffs",
        ("conversation_id", "opened_at", "closed_at"),
        [
            ("conversation", "conversation_id", "conversation_id"),
            ("handoff", "handoff_id", "id"),
        ],
    ),
    ("hr_tasks", ("conversation_id",), [("conversation", "conversation_id", "conversation_id")]),
    (
        "job_questions",
        ("conversation_id",),
        [("conversation", "conversation_id", "conversation_id")],
    ),
    ("csat_ratings", ("outreach_message_id", "asked_at", "rating"), [("csat", "csat_id", "id")]),
    ("outbox", ("message_id", "channel", "state", "created_at"), [("delivery", "outbox_id", "id")]),
]


def _refresh(fact: str, column: str, value: str) -> str:
    cols = _columns(fact)
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
    for fact, (columns, indexes) in TABLES.items():
        table = f"kpi_{fact}_facts"
        op.create_table(
            table,
            *[
                sa.Column(name, type_, nullable=nullable, autoincrement=False)
                for name, type_, nullable in columns
            ],
            sa.PrimaryKeyConstraint(columns[0][0], name=op.f(f"pk_{table}")),
        )
        for suffix, indexed in indexes:
            op.create_index(f"ix_{table}_{suffix}", table, indexed)
    op.create_index("ix_handoffs_opened_at", "handoffs", ["opened_at"])
    for fact, sql in _views(dialect).items():
        op.execute(f"CREATE VIEW v_kpi_{fact}_facts AS {sql}")
        cols = _columns(fact)
        op.execute(f"INSERT INTO kpi_{fact}_facts ({cols}) SELECT {cols} FROM v_kpi_{fact}_facts")
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
    for fact in TABLES:
        op.execute(f"DROP VIEW v_kpi_{fact}_facts")
        op.drop_table(f"kpi_{fact}_facts")
    op.drop_index("ix_handoffs_opened_at", table_name="handoffs")
