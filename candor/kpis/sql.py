"""SQL helpers the KPIs need on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, DateTime, literal_column
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


class plus_days(FunctionElement[Any]):  # noqa: N801 - used like a SQL function
    """A stored UTC timestamp moved `days` whole days later, comparable with other columns.

    SQLite renders it without fractional seconds, so compare with `<` (strictly before the
    end of a window) to stay exact to the second.
    """

    type = DateTime()
    inherit_cache = True
    name = "plus_days"

    def __init__(self, column: ColumnElement[Any] | InstrumentedAttribute[Any], days: int) -> None:
        super().__init__(column, literal_column(str(int(days))))


@compiles(plus_days, "postgresql")
def _plus_days_postgresql(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    column, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(({column}) + make_interval(days => {days}))"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    column, days = list(element.clauses)
    return f"datetime({compiler.process(column, **kw)}, '+{compiler.process(days, **kw)} days')"


@compiles(plus_days)
def _plus_days_default(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    column, days = list(element.clauses)
    return f"plus_days({compiler.process(column, **kw)}, {compiler.process(days, **kw)})"
