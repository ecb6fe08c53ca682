"""HR users choose the console's language (NULL: the default, zh-CN).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Expand only: the previous release keeps reading hr_users while this column is added.
    op.add_column("hr_users", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("hr_users", "locale")
