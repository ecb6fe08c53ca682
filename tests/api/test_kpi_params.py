"""The KPI filters from query strings: any text is a filter or a clear 422, never a crash."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.errors import ApiError
from api.kpi_params import DEFAULT_DAYS, kpi_filter, optional_date, optional_id


@given(st.one_of(st.text(max_size=30), st.integers().map(str)))
def test_any_text_is_an_id_nothing_or_a_422(text: str) -> None:
    if not text.strip():
        assert optional_id(text, "job_id") is None
        return
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and 1 <= int(stripped) <= 2**63 - 1:
        assert optional_id(text, "job_id") == int(stripped)
    else:
        with pytest.raises(ApiError, match="job_id must be an id"):
            optional_id(text, "job_id")


@pytest.mark.parametrize("text", ["0", "-1", str(2**63), "1_000", "\uff11"])
def test_what_is_not_a_database_id_is_a_422(text: str) -> None:
    with pytest.raises(ApiError, match="job_id must be an id"):
        optional_id(text, "job_id")


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
