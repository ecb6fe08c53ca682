"""SQL helpers the KPIs need on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class local_date(FunctionElement[Any]):  # noqa: N801 - used like a SQL function
    """The Asia/Shanghai calendar date of a stored UTC timestamp.

    China has kept UTC+8 all year since 1991, so SQLite (which stores UTC without a zone)
    adds eight hours; PostgreSQL converts with the zone's rules.
    """

    type = Date()
    inherit_cache = True
    name = "local_date"

    def __init__(self, column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> None:
        super().__init__(column)


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Shanghai')::date"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(local_date)
def _local_date_default(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    # Only for printing a statement; each database above has its own rendering.
    return f"local_date({compiler.process(element.clauses, **kw)})"
