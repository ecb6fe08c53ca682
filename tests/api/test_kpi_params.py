"""The KPI filters from query strings: any text is a filter or a clear 422, never a crash."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.errors import ApiError
from api.kpi_params import DEFAULT_DAYS, kpi_filter, optional_date, optional_int


@given(st.text(max_size=30))
def test_any_text_is_a_number_nothing_or_a_422(text: str) -> None:
    if not text.strip():
        assert optional_int(text, "job_id") is None
        return
    try:
        expected = int(text)
    except ValueError:
        with pytest.raises(ApiError, match="job_id must be a whole number"):
            optional_int(text, "job_id")
    else:
        assert optional_int(text, "job_id") == expected


@given(st.one_of(st.text(max_size=30), st.dates().map(date.isoformat)))
def test_any_text_is_a_date_nothing_or_a_422(text: str) -> None:
    if not text.strip():
        assert optional_date(text, "from") is None
        return
    try:
        expected = date.fromisoformat(text.strip())
    except ValueError:
        with pytest.raises(ApiError, match="from must be a date"):
            optional_date(text, "from")
    else:
        assert optional_date(text, "from") == expected


def test_empty_form_fields_mean_not_given() -> None:
    filters = kpi_filter(start="", end="2026-03-31", team_id=["", "3", "3"], job_id=" ")

    assert filters.end == date(2026, 3, 31)
    assert (filters.end - filters.start).days == DEFAULT_DAYS - 1
    assert filters.team_ids == (3,)
    assert filters.job_id is None


def test_a_bad_team_is_refused() -> None:
    with pytest.raises(ApiError):
        kpi_filter(team_id=["three"])
