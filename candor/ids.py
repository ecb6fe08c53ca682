"""Row ids as callers give them: whole numbers that fit a signed 64-bit database column.

A larger number is not a missing row but a malformed request (SQLite cannot even bind it),
so it is refused at the edge, like any other invalid input, and never reaches a query.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ROW_ID = 2**63 - 1

# An id in a path, a query or a body: FastAPI and pydantic answer 422 outside the range.
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
# A paging cursor: "after the id" / "before the id", where 0 means "from the start".
RowCursor = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


def parse_row_id(text: str) -> int | None:
    """The id a form or query string holds, or None if it is not a valid row id."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ROW_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None
