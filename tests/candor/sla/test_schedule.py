"""The year-schedule data format: what is accepted, and messages that name the entry."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from candor.models.calendar import OverrideKind
from candor.sla.errors import InvalidScheduleError
from candor.sla.schedule import parse_schedule, read_schedule_file

DATA = Path(__file__).resolve().parents[3] / "data" / "calendar"


def schedule(**changes: Any) -> dict[str, Any]:
    """A valid test schedule for 2027 (test data, not the official schedule)."""
    return {
        "year": 2027,
        "holidays": [
            {"name": "元旦", "dates": ["2027-01-01"]},
            {"name": "春节", "from": "2027-02-05", "to": "2027-02-11"},
        ],
        "workdays": [{"name": "春节", "dates": ["2027-02-13"]}],
        **changes,
    }


def problems(data: object, year: int | None = None) -> list[str]:
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule(data, year=year)
    assert caught.value.message.startswith("invalid schedule") or caught.value.details
    return caught.value.details


def test_a_valid_schedule_expands_ranges_and_lists() -> None:
    days = parse_schedule(schedule()).expand()

    assert days[date(2027, 1, 1)] == (OverrideKind.HOLIDAY, "元旦")
    assert days[date(2027, 2, 13)] == (OverrideKind.WORKDAY, "春节")
    assert sum(1 for kind, _ in days.values() if kind is OverrideKind.HOLIDAY) == 8


def test_the_shipped_example_is_valid_and_says_it_is_an_example() -> None:
    example = read_schedule_file(DATA / "example-2027.yaml")

    assert example.year == 2027
    assert example.reference is not None
    assert "EXAMPLE" in example.reference
    assert not list(DATA.glob("cn-*.yaml")), "ship a year only when it is the official one"


def test_every_problem_is_reported_naming_its_entry() -> None:
    found = problems(
        schedule(
            holidays=[
                {"name": "春节", "from": "2027-02-10", "to": "2027-02-05"},
                {"name": "元旦", "dates": ["2028-01-01", "2027-01-01"]},
                {"name": "dup", "dates": ["2027-01-01"]},
                {"name": "empty"},
                {"name": "half", "from": "2027-03-01"},
                {"name": "long", "from": "2027-07-01", "to": "2027-08-15"},
            ],
            workdays=[{"name": "春节", "dates": ["2027-02-15"]}],
        )
    )

    assert found == [
        "holidays[0] (春节): 'from' 2027-02-10 is after 'to' 2027-02-05",
        "holidays[1] (元旦): 2028-01-01 is not in 2027",
        "holidays[2] (dup): 2027-01-01 is already listed in holidays[1] (元旦)",
        "holidays[3] (empty): no dates; give 'dates' or 'from' and 'to'",
        "holidays[4] (half): give both 'from' and 'to', or neither",
        "holidays[4] (half): no dates; give 'dates' or 'from' and 'to'",
        "holidays[5] (long): 2027-07-01..2027-08-15 is longer than 31 days",
        "workdays[0] (春节): 2027-02-15 is a Monday, already a working day; "
        "a 调休 make-up working day falls on a Saturday or Sunday",
    ]


def test_a_holiday_also_listed_as_a_workday_is_refused() -> None:
    found = problems(schedule(workdays=[{"name": "x", "dates": ["2027-02-06"]}]))
    assert found == ["workdays[0] (x): 2027-02-06 is already listed in holidays[1] (春节)"]


def test_type_errors_name_the_entry_and_field() -> None:
    found = problems(
        {
            "year": 2027,
            "holiday": [],
            "holidays": [
                {"name": "元旦", "dates": ["2027-01-01", "not-a-date"]},
                {"dates": ["2027-03-01"]},
                {"name": "x", "date": "2027-03-02"},
            ],
        }
    )

    assert found[0].startswith("holidays[0] (元旦).dates[1]: Input should be a valid date")
    assert found[1:] == [
        "holidays[1].name: Field required",
        "holidays[2] (x).date: unknown field (expected name, dates, from, to)",
        "holiday: unknown field (expected year, reference, holidays, workdays)",
    ]


def test_document_level_problems() -> None:
    assert problems(["not", "a", "mapping"]) == [
        "document: expected a mapping (year, holidays, workdays)"
    ]
    assert problems(schedule(holidays=[])) == [
        "holidays: List should have at least 1 item after validation, not 0"
    ]
    assert problems(schedule(), year=2028) == ["year: the document is for 2027, not 2028"]
    assert problems({**schedule(year=1890), "holidays": [], "workdays": []})


def test_files_that_are_not_yaml_or_json_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "cn-2027.yaml"
    broken.write_text("year: 2027\nholidays: [\n", encoding="utf-8")
    broken_json = tmp_path / "cn-2027.json"
    broken_json.write_text("{", encoding="utf-8")
    good_json = tmp_path / "good.json"
    good_json.write_text(
        '{"year": 2027, "holidays": [{"name": "元旦", "dates": ["2027-01-01"]}]}',
        encoding="utf-8",
    )

    with pytest.raises(InvalidScheduleError, match=r"cn-2027\.yaml: not valid YAML"):
        read_schedule_file(broken)
    with pytest.raises(InvalidScheduleError, match=r"cn-2027\.json: not valid JSON"):
        read_schedule_file(broken_json)
    assert read_schedule_file(good_json).year == 2027
