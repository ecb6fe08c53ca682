"""The application each chat message concerned, so a team reads only its own applications'

A conversation of a candidate with applications in several teams is visible to more than
one team over time; its messages now record the application the conversation concerned
when they were written, and a team is shown only the untagged ones and its own. Existing
messages stay untagged (NULL): visible, as before, to whoever sees their conversation.

A plain indexed integer, with no foreign key: SQLite adds it in place (`ALTER TABLE ... ADD
COLUMN`), without rebuilding `chat_messages`, its KPI triggers or what refers to it, and
SQLite cannot add a named reference. An id left by a deleted application matches no team,
so those messages are then shown to admins only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from candor.db.types import BigIntId

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chat_messages", sa.Column("application_id", BigIntId, nullable=True))
    op.create_index(op.f("ix_chat_messages_application_id"), "chat_messages", ["application_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_messages_application_id"), table_name="chat_messages")
    # SQLite (3.35+) drops an unreferenced, unindexed column in place.
    op.drop_column("chat_messages", "application_id")
