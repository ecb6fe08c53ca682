"""Widen or narrow the list of values a CHECK constraint allows, in a migration.

Enum columns are VARCHAR plus a CHECK constraint (`candor.db.types.enum_column`), so a new
enum member means a new list in every constraint that names the enum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from alembic import op

# table -> its (column, CHECK constraint name) pairs, the names the naming convention gave.
Checks = Mapping[str, Iterable[tuple[str, str]]]


def allow_values(checks: Checks, values: Iterable[str]) -> None:
    listed = ", ".join(f"'{value}'" for value in values)
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_on_sqlite(checks, listed)
        return
    for table, pairs in checks.items():
        for column, constraint in pairs:
            op.drop_constraint(op.f(constraint), table, type_="check")
            op.create_check_constraint(op.f(constraint), table, sa.text(f"{column} IN ({listed})"))


def _rewrite_on_sqlite(checks: Checks, listed: str) -> None:
    """Rewrite the CHECK constraints in the schema, as SQLite documents for changing one
    (https://sqlite.org/lang_altertable.html#otheralter): batch mode would copy each table,
    and dropping the original would cascade-delete the rows that refer to it and take the
    KPI triggers and views with it. Only the list of allowed values changes; the caller
    makes sure every stored value stays in it."""
    connection = op.get_bind()
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table, pairs in checks.items():
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
            for column, constraint in pairs:
                sql, replaced = re.subn(
                    rf"(CONSTRAINT {constraint} CHECK \({column} IN \()[^)]*\)",
                    lambda match: f"{match.group(1)}{listed})",
                    sql,
                )
                if replaced != 1:
                    raise RuntimeError(f"{table}: constraint {constraint} not found")
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
            )
        connection.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema=OFF")
