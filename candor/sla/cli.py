"""`candor sla due` and `candor calendar load|show`: parse, call the service, print.

Exit codes: 0 done; 2 unusable input (a datetime without offset, an invalid schedule file)
or a database that cannot be read (not migrated, unreachable) — nothing is written then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.logging import configure_logging
from candor.models.calendar import OverrideKind
from candor.runtime import database_transaction
from candor.settings import Settings
from candor.sla import service
from candor.sla.calendar import (
    COVERAGE_HORIZON_DAYS,
    DayInfo,
    DayKind,
    Deadline,
    NaiveDatetimeError,
    WorkingCalendar,
)
from candor.sla.errors import CalendarError
from candor.sla.schedule import read_schedule_file

EXIT_OK = 0
EXIT_UNUSABLE = 2
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

T = TypeVar("T")


class CommandError(Exception):
    """Ends the command with a message on stderr and exit code 2."""


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(EXIT_UNUSABLE)


def _with_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `action` in one committed transaction; database errors become CommandError."""

    async def main() -> T:
        async with database_transaction(settings) as session:
            return await action(session)

    try:
        return asyncio.run(main())
    except (DBAPIError, OSError) as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise CommandError(
            f"cannot use the calendar tables in the database ({cause}); run `candor db "
            f"upgrade` first, check CANDOR_DATABASE_URL, or pass --offline to use the "
            f"package's official data only"
        ) from exc


def _calendar(settings: Settings, *, offline: bool) -> WorkingCalendar:
    if offline:
        return WorkingCalendar()
    return _with_session(settings, service.current_calendar)


def parse_completed_at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{text!r} is not an ISO 8601 datetime, e.g. 2025-09-30T10:00:00+08:00"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CommandError(
            f"{text!r} has no UTC offset, so its date in China is unknown; add one, e.g. "
            f"{text}+08:00 (China) or {text}Z (UTC)"
        )
    return moment


def sla_due(
    settings: Settings, completed_at: str, *, days: int, explain: bool, offline: bool
) -> None:
    configure_logging(settings)
    try:
        moment = parse_completed_at(completed_at)
        calendar = _calendar(settings, offline=offline)
        deadline = calendar.due_at(moment, days)
    except (CommandError, NaiveDatetimeError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(deadline.due_at.isoformat())
    if explain:
        for line in explain_lines(deadline):
            typer.echo(line)
    if deadline.estimated:
        typer.secho(_estimated_warning(deadline), err=True, fg=typer.colors.YELLOW)


def explain_lines(deadline: Deadline) -> list[str]:
    local = deadline.completed_at.astimezone(deadline.due_at.tzinfo)
    lines = [
        f"completed {local.isoformat()} ({WEEKDAYS[deadline.completed_on.weekday()]}); "
        f"counting {deadline.days} working days from the next day:"
    ]
    counted = 0
    for step in deadline.steps:
        if step.working:
            counted += 1
            status = f"day {counted}"
        else:
            status = "skipped"
        lines.append(f"  {_day_line(step, status)}")
    lines.append(
        f"due by the end of {deadline.due_on.isoformat()} "
        f"({WEEKDAYS[deadline.due_on.weekday()]}), Asia/Shanghai"
        + (" [estimated]" if deadline.estimated else "")
    )
    return lines


def _day_line(info: DayInfo, status: str) -> str:
    return f"{info.day.isoformat()} {WEEKDAYS[info.day.weekday()]}  {status:<8} {info.reason()}"


def _estimated_warning(deadline: Deadline) -> str:
    return (
        f"warning: estimated — the calendar's official data ends {deadline.coverage_end}, so "
        f"days after it count weekends and statutory holidays, without the year's 调休 "
        f"swaps; load the year's "
        f"schedule (`candor calendar load`) for an exact deadline"
    )


def calendar_load(settings: Settings, file: Path, *, check_only: bool) -> None:
    configure_logging(settings)
    try:
        schedule = read_schedule_file(file)
    except CalendarError as exc:
        typer.secho(f"{exc.message}; nothing written", err=True, fg=typer.colors.RED)
        for detail in exc.details:
            typer.secho(f"  - {detail}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    days = schedule.expand()
    holidays = sum(1 for kind, _ in days.values() if kind is OverrideKind.HOLIDAY)
    summary = f"{schedule.year}: {holidays} holidays, {len(days) - holidays} make-up working days"
    if check_only:
        typer.echo(f"{file.name} is valid ({summary}); nothing written")
        return

    async def load(session: AsyncSession) -> tuple[int, date]:
        loaded = await service.load_year(session, schedule, source=f"file:{file.name}")
        return loaded.replaced, (await service.load_calendar(session)).coverage_end()

    try:
        replaced, coverage_end = _with_session(settings, load)
    except (CommandError, CalendarError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"loaded {summary} from {file.name} (replaced {replaced} earlier entries); "
        f"the calendar is known through {coverage_end}"
    )


def calendar_show(
    settings: Settings,
    *,
    start: date | None,
    end: date | None,
    every_day: bool,
    offline: bool,
) -> None:
    configure_logging(settings)
    today = service.business_today()
    start = start or today
    end = end or start + timedelta(days=COVERAGE_HORIZON_DAYS)
    try:
        calendar = _calendar(settings, offline=offline)
        days = service.days_between(calendar, start, end)
    except (CommandError, CalendarError) as exc:
        raise _fail(str(exc)) from exc
    package = calendar.package
    admin = ", ".join(
        f"{year} ({calendar.admin_years[year].source})" for year in sorted(calendar.admin_years)
    )
    typer.echo(
        f"official data: {package.source}, {package.first_year}-{package.last_year}; "
        f"admin schedules: {admin or 'none'}; known through {calendar.coverage_end()}; "
        f"estimated after that from {calendar.statutory.source.split(':')[0]}"
    )
    warning = calendar.coverage_warning(today)
    if warning is not None:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
    shown = [day for day in days if every_day or _notable(day)]
    for day in shown:
        typer.echo(_day_line(day, "working" if day.working else "off") + f"  [{day.source}]")
    if not shown:
        typer.echo(f"no holidays or make-up working days from {start} to {end}")


def _notable(day: DayInfo) -> bool:
    return day.kind in (DayKind.HOLIDAY, DayKind.MAKEUP_WORKDAY) or day.name is not None
