"""The admin's additions to China's working-day calendar (see docs/sla.md).

The official data for most years ships with the `chinese-calendar` package; these tables hold
what an admin loaded on top of it: single-day overrides, the years whose whole official
schedule was loaded, and an append-only log of every change (whose row count is the calendar's
revision, so each process knows when to rebuild its cached calendar).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.db.base import Base, IdMixin
from candor.db.types import JSONType, UTCDateTime, enum_column, utcnow


class OverrideKind(StrEnum):
    HOLIDAY = "holiday"  # a day off, whatever its weekday
    WORKDAY = "workday"  # a working day, whatever its weekday (调休 make-up days)


class CalendarDay(IdMixin, Base):
    """One date an admin declared a holiday or a working day; it wins over package data."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[OverrideKind] = mapped_column(enum_column(OverrideKind, "calendar_day_kind"))
    name: Mapped[str] = mapped_column(String(100))
    # Where it came from, e.g. "file:cn-2027.yaml" or "api:hr-admin".
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarYear(Base):
    """A year whose complete official schedule an admin loaded: its dates are known, not
    estimated, and the admin's schedule replaces the package's data for that year."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    # The official notice it transcribes, e.g. "国办发明电〔2026〕7号"; free text, optional.
    reference: Mapped[str | None] = mapped_column(String(300))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarChange(IdMixin, Base):
    """Append-only audit of calendar writes. Never updated or deleted: its row count is the
    calendar revision that cached calendars are keyed by."""

    __tablename__ = "calendar_changes"

    action: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
