"""The paging parameters of the list endpoints: keyset paging, one convention throughout.

A page is a plain JSON list in a stable order; the next page is asked for with the last
item's cursor (`after_id`, or the key or version a list is ordered by) and is empty after
the last page. `limit` is bounded: a bigger one is a 422, never a slow query. Keyset paging
neither skips nor repeats rows when rows are added meanwhile, unlike an offset.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from candor.ids import RowCursor

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500

PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"At most this many (1-{MAX_PAGE_SIZE})")
]
AfterId = Annotated[
    RowCursor | None,
    Query(description="The last `id` of the previous page: the next page starts after it"),
]
