"""The list of personal columns covers every text and JSON column of every table."""

from __future__ import annotations

from sqlalchemy import JSON, Enum, String, Text
from sqlalchemy.sql.type_api import TypeEngine

from candor.models import Base
from candor.privacy.personal_data import ERASED_ON_COMPLETION, NOT_CANDIDATE_DATA, RULES


def holds_text(column_type: TypeEngine[object]) -> bool:
    if isinstance(column_type, Enum):  # a vocabulary
        return False
    return isinstance(column_type, String | Text | JSON)


def text_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if holds_text(column.type)
    }


def declared() -> set[tuple[str, str]]:
    covered: set[tuple[str, str]] = set()
    for rule in RULES:
        table = Base.metadata.tables[rule.table]
        if rule.delete:
            covered |= {(rule.table, c.name) for c in table.columns}
        covered |= {(rule.table, column) for column in rule.wipe}
    for source in (NOT_CANDIDATE_DATA, ERASED_ON_COMPLETION):
        covered |= {(table, column) for table, columns in source.items() for column in columns}
    return covered


def test_every_text_column_is_erased_or_declared_not_personal() -> None:
    missing = sorted(text_columns() - declared())
    assert missing == [], (
        "add these columns to a rule in candor/privacy/personal_data.py, or declare them "
        f"in NOT_CANDIDATE_DATA with the reason: {missing}"
    )


def test_the_declarations_name_real_columns() -> None:
    """A renamed or dropped column does not linger in the list."""
    real = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns}
    assert sorted(declared() - real) == []


def test_a_column_is_either_erased_or_declared_not_both() -> None:
    wiped = {(rule.table, column) for rule in RULES for column in rule.wipe}
    not_personal = {(t, c) for t, cs in NOT_CANDIDATE_DATA.items() for c in cs}
    assert sorted(wiped & not_personal) == []


def test_a_new_text_column_fails_the_check() -> None:
    """The check can fail: a column nobody declared is reported."""
    from sqlalchemy import Column

    table = Base.metadata.tables["candidates"]
    column = Column("nickname", String(50))
    table.append_column(column)
    try:
        assert ("candidates", "nickname") in text_columns() - declared()
    finally:
        table._columns.remove(column)
