"""The calendar API's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from candor.models.calendar import OverrideKind
from candor.sla.calendar import DayInfo, DayKind, PackageData

WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class DayOut(BaseModel):
    date: dt.date
    weekday: str = Field(description="Mon … Sun")
    working: bool
    kind: DayKind = Field(description="workday, weekend, holiday or makeup_workday (调休)")
    name: str | None = Field(description="The holiday (or make-up day's holiday) name")
    source: str = Field(
        description="Package version, admin source, the statutory estimate or the fallback rule"
    )
    estimated: bool = Field(
        description="True when no official or admin data covers the day: the statutory "
        "holidays without 调休 swaps (or, past them, weekends and fixed-date holidays) decided it"
    )

    @classmethod
    def of(cls, info: DayInfo) -> DayOut:
        return cls(
            date=info.day,
            weekday=WEEKDAY_ABBR[info.day.weekday()],
            working=info.working,
            kind=info.kind,
            name=info.name,
            source=info.source,
            estimated=info.estimated,
        )


class DaysOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date
    coverage_end: dt.date = Field(description="Every date up to this one is known")
    estimated: bool = Field(description="True when any listed day is estimated")
    days: list[DayOut]


class DayOverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OverrideKind = Field(description="holiday (a day off) or workday (a working day)")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class YearLoadedOut(BaseModel):
    year: int
    holidays: int = Field(description="Holiday dates loaded")
    workdays: int = Field(description="Make-up working days loaded")
    replaced: int = Field(description="Earlier admin entries for the year that were replaced")
    coverage_end: dt.date


class PackageOut(BaseModel):
    name: str
    version: str
    first_year: int
    last_year: int

    @classmethod
    def of(cls, package: PackageData) -> PackageOut:
        return cls(
            name="chinese-calendar",
            version=package.version,
            first_year=package.first_year,
            last_year=package.last_year,
        )


class AdminYearOut(BaseModel):
    year: int
    source: str
    reference: str | None
    loaded_at: dt.datetime


class CoverageOut(BaseModel):
    package: PackageOut
    admin_years: list[AdminYearOut]
    coverage_end: dt.date
    warning: str | None = Field(
        description="Set when the known data ends within 60 days of today (Asia/Shanghai)"
    )
