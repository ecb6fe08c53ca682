"""A year's official holiday schedule: the data-file format (YAML or JSON) and its checks.

The same document is accepted by `candor calendar load FILE` and by
`POST /api/v1/calendar/years/{year}` (as JSON). data/calendar/README.md describes it:

    year: 2027
    reference: 国办发明电〔2026〕N号          # optional: the notice it transcribes
    holidays:                               # days off, with their holiday's name
      - name: 春节
        from: 2027-02-05                    # a range, both ends included ...
        to: 2027-02-11
      - name: 元旦
        dates: [2027-01-01]                 # ... or a list of dates (or both)
    workdays:                               # 调休 make-up working days (weekends)
      - name: 春节
        dates: [2027-02-13]

Every problem in a document is reported at once, each naming its entry; nothing is written
unless the whole document is valid.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from candor.models.calendar import OverrideKind
from candor.sla.errors import InvalidScheduleError

MIN_YEAR = 1990
MAX_YEAR = 2100
MAX_RANGE_DAYS = 31
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ScheduleEntry(BaseModel):
    """Named dates: a list, a from/to range (both ends included), or both."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    dates: list[dt.date] = Field(default_factory=list)
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None

    def all_dates(self) -> Iterator[dt.date]:
        yield from self.dates
        if self.from_ is not None and self.to is not None and self.from_ <= self.to:
            if (self.to - self.from_).days >= MAX_RANGE_DAYS:
                return
            day = self.from_
            while day <= self.to:
                yield day
                day += dt.timedelta(days=1)


class YearSchedule(BaseModel):
    """One year's complete official schedule of holidays and 调休 make-up working days."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "year": 2027,
                "reference": "国办发明电〔2026〕N号",
                "holidays": [
                    {"name": "元旦", "dates": ["2027-01-01"]},
                    {"name": "春节", "from": "2027-02-05", "to": "2027-02-11"},
                ],
                "workdays": [{"name": "春节", "dates": ["2027-02-13"]}],
            }
        },
    )

    year: int
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = (
        None
    )
    holidays: list[ScheduleEntry] = Field(min_length=1)
    workdays: list[ScheduleEntry] = Field(default_factory=list)

    def expand(self) -> dict[dt.date, tuple[OverrideKind, str]]:
        """Each listed date with its kind and name. Call `check_schedule` first."""
        days: dict[dt.date, tuple[OverrideKind, str]] = {}
        for kind, entries in self._groups():
            for entry in entries:
                for day in entry.all_dates():
                    days[day] = (kind, entry.name)
        return days

    def _groups(self) -> tuple[tuple[OverrideKind, list[ScheduleEntry]], ...]:
        return ((OverrideKind.HOLIDAY, self.holidays), (OverrideKind.WORKDAY, self.workdays))


def _label(group: str, index: int, entry: ScheduleEntry | Mapping[str, Any] | None) -> str:
    name = entry.name if isinstance(entry, ScheduleEntry) else None
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        name = entry["name"]
    return f"{group}[{index}]" + (f" ({name})" if name else "")


def check_schedule(schedule: YearSchedule, *, year: int | None = None) -> list[str]:
    """Every problem with an (already well-typed) schedule, each naming its entry."""
    problems: list[str] = []
    if year is not None and schedule.year != year:
        problems.append(f"year: the document is for {schedule.year}, not {year}")
    if not MIN_YEAR <= schedule.year <= MAX_YEAR:
        problems.append(f"year: {schedule.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    seen: dict[dt.date, str] = {}
    for kind, entries in schedule._groups():
        group = "holidays" if kind is OverrideKind.HOLIDAY else "workdays"
        for index, entry in enumerate(entries):
            label = _label(group, index, entry)
            problems.extend(_entry_problems(entry, label, schedule.year, kind))
            for day in sorted(set(entry.all_dates())):
                if day in seen:
                    problems.append(f"{label}: {day} is already listed in {seen[day]}")
                else:
                    seen[day] = label
    return problems


def _entry_problems(
    entry: ScheduleEntry, label: str, year: int, kind: OverrideKind
) -> Iterator[str]:
    if (entry.from_ is None) != (entry.to is None):
        yield f"{label}: give both 'from' and 'to', or neither"
    if entry.from_ is not None and entry.to is not None:
        if entry.from_ > entry.to:
            yield f"{label}: 'from' {entry.from_} is after 'to' {entry.to}"
        elif (entry.to - entry.from_).days >= MAX_RANGE_DAYS:
            yield f"{label}: {entry.from_}..{entry.to} is longer than {MAX_RANGE_DAYS} days"
    if not entry.dates and (entry.from_ is None or entry.to is None):
        yield f"{label}: no dates; give 'dates' or 'from' and 'to'"
    if len(set(entry.dates)) != len(entry.dates):
        yield f"{label}: a date is repeated in 'dates'"
    for day in sorted(set(entry.all_dates())):
        if day.year != year:
            yield f"{label}: {day} is not in {year}"
        elif kind is OverrideKind.WORKDAY and day.weekday() < 5:
            yield (
                f"{label}: {day} is a {WEEKDAYS[day.weekday()]}, already a working day; "
                f"a 调休 make-up working day falls on a Saturday or Sunday"
            )


def parse_schedule(data: object, *, year: int | None = None) -> YearSchedule:
    """A valid schedule from decoded YAML/JSON, or InvalidScheduleError listing problems."""
    if not isinstance(data, Mapping):
        raise InvalidScheduleError(
            "the schedule must be a mapping with year, holidays and workdays",
            ["document: expected a mapping (year, holidays, workdays)"],
        )
    try:
        schedule = YearSchedule.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(error, data) for error in exc.errors()]
        raise InvalidScheduleError(_summary(problems), problems) from None
    problems = check_schedule(schedule, year=year)
    if problems:
        raise InvalidScheduleError(_summary(problems), problems)
    return schedule


def require_valid(schedule: YearSchedule, *, year: int | None = None) -> YearSchedule:
    """`schedule` if it passes `check_schedule`, else InvalidScheduleError."""
    problems = check_schedule(schedule, year=year)
    if problems:
        raise InvalidScheduleError(_summary(problems), problems)
    return schedule


def read_schedule_file(path: Path) -> YearSchedule:
    """Read and validate a schedule file: YAML, or JSON (a subset of YAML)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidScheduleError(f"{path}: cannot read: {exc}", [str(exc)]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        message = f"{path.name}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}"
        raise InvalidScheduleError(message, [f"{message}: {exc}"]) from None
    try:
        return parse_schedule(data)
    except InvalidScheduleError as exc:
        raise InvalidScheduleError(f"{path.name}: {exc.message}", exc.details) from None


def _summary(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"invalid schedule: {problems[0]}{more}"


def _describe(error: Any, data: Mapping[str, Any]) -> str:
    loc = [str(part) if part != "from_" else "from" for part in error["loc"]]
    where = ""
    if len(loc) >= 2 and loc[0] in ("holidays", "workdays") and loc[1].isdigit():
        index = int(loc[1])
        entries = data.get(loc[0])
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        where = _label(loc[0], index, entry if isinstance(entry, Mapping) else None)
        rest = loc[2:]
    else:
        rest = loc
    path = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in rest).lstrip(".")
    target = f"{where}.{path}" if where and path else (where or path or "document")
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        expected = "name, dates, from, to" if where else "year, reference, holidays, workdays"
        message = f"unknown field (expected {expected})"
    return f"{target}: {message}"
