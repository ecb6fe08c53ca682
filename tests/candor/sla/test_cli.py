"""`candor sla due` and `candor calendar load|show`, run as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.candor.test_cli import candor

# Test data for 2027, not the official schedule.
SCHEDULE_2027 = """\
year: 2027
reference: test notice
holidays:
  - name: 元旦
    dates: [2027-01-01]
  - name: test holiday
    from: 2027-01-04
    to: 2027-01-05
workdays:
  - name: test make-up
    dates: [2027-01-09]
"""


@pytest.fixture
def env(embedded_env: dict[str, str]) -> dict[str, str]:
    return embedded_env


def test_due_prints_the_end_of_the_fifth_working_day(env: dict[str, str]) -> None:
    result = candor("sla", "due", "2025-09-30T10:00:00+08:00", "--offline", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "2025-10-14T23:59:59+08:00\n"
    assert "warning" not in result.stderr


def test_due_explains_each_day(env: dict[str, str]) -> None:
    result = candor(
        "sla", "due", "2025-09-30T10:00:00+08:00", "--days", "3", "--explain", "--offline", env=env
    )

    lines = [line.strip() for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert lines[0] == "2025-10-11T23:59:59+08:00"
    assert "2025-10-06 Mon  skipped  holiday: Mid-autumn Festival" in lines
    assert "2025-10-09 Thu  day 1    working day" in lines
    assert "2025-10-11 Sat  day 3    调休 make-up working day (National Day)" in lines
    assert lines[-1] == "due by the end of 2025-10-11 (Sat), Asia/Shanghai"


def test_a_datetime_without_offset_is_a_clear_error(env: dict[str, str]) -> None:
    naive = candor("sla", "due", "2025-09-30T10:00:00", "--offline", env=env)
    garbage = candor("sla", "due", "next tuesday", "--offline", env=env)

    assert naive.returncode == 2
    assert naive.stdout == ""
    assert "has no UTC offset" in naive.stderr
    assert garbage.returncode == 2
    assert "not an ISO 8601 datetime" in garbage.stderr


def test_past_the_data_the_deadline_is_estimated_with_a_warning(env: dict[str, str]) -> None:
    result = candor("sla", "due", "2026-12-30T10:00:00+08:00", "--offline", env=env)

    assert result.returncode == 0
    assert result.stdout == "2027-01-07T23:59:59+08:00\n"
    assert "calendar.estimated" in result.stderr
    assert "warning: estimated" in result.stderr


def test_an_unmigrated_database_is_a_clear_error(env: dict[str, str]) -> None:
    result = candor("sla", "due", "2025-09-30T10:00:00+08:00", env=env)

    assert result.returncode == 2
    assert "candor db upgrade" in result.stderr
    assert "--offline" in result.stderr


def test_load_a_year_then_deadlines_use_it(env: dict[str, str], tmp_path: Path) -> None:
    schedule = tmp_path / "cn-2027.yaml"
    schedule.write_text(SCHEDULE_2027, encoding="utf-8")
    assert candor("db", "upgrade", env=env).returncode == 0

    checked = candor("calendar", "load", "--check", str(schedule), env=env)
    loaded = candor("calendar", "load", str(schedule), env=env)
    after = candor("sla", "due", "2026-12-30T10:00:00+08:00", env=env)
    shown = candor("calendar", "show", "--from", "2027-01-01", "--to", "2027-01-10", env=env)

    assert checked.returncode == 0, checked.stderr
    assert "nothing written" in checked.stdout
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded 2027: 3 holidays, 1 make-up working days" in loaded.stdout
    assert "known through 2027-12-31" in loaded.stdout
    assert after.returncode == 0, after.stderr
    assert after.stdout == "2027-01-09T23:59:59+08:00\n"  # Jan 9 is the test 调休 day
    assert "estimated" not in after.stderr
    assert shown.returncode == 0, shown.stderr
    assert "admin schedules: 2027 (file:cn-2027.yaml)" in shown.stdout
    assert "2027-01-05 Tue  off      holiday: test holiday" in shown.stdout
    assert "2027-01-09 Sat  working  调休 make-up working day (test make-up)" in shown.stdout
    assert "warning" not in shown.stderr


def test_an_invalid_file_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "cn-2027.yaml"
    bad.write_text(SCHEDULE_2027.replace("2027-01-09", "2027-01-11"), encoding="utf-8")
    assert candor("db", "upgrade", env=env).returncode == 0

    result = candor("calendar", "load", str(bad), env=env)
    shown = candor("calendar", "show", "--from", "2027-01-01", "--to", "2027-01-02", env=env)

    assert result.returncode == 2
    assert "nothing written" in result.stderr
    assert "workdays[0] (test make-up): 2027-01-11 is a Monday" in result.stderr
    assert "admin schedules: none" in shown.stdout
