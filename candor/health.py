"""Readiness checks: each dependency is probed with a short timeout and reported by name.

The calendar entry is advisory: it is always `ok`, and carries a `warning` when the
working-day calendar's known data ends within 60 days (deadlines after that are estimated).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text

from candor.logging import get_logger
from candor.runtime import Runtime
from candor.sla import service as calendar_service
from candor.sla.calendar import WorkingCalendar

log = get_logger(__name__)
CHECK_TIMEOUT_S = 2.0


@dataclass(slots=True)
class ReadinessReport:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "unavailable", "checks": self.checks}


async def _database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _redis(runtime: Runtime) -> None:
    await runtime.redis.ping()


async def _current_calendar(runtime: Runtime) -> WorkingCalendar:
    async with runtime.sessionmaker() as session:
        return await calendar_service.current_calendar(session)


async def check_calendar(
    runtime: Runtime, *, today: date | None = None, database_ok: bool = True
) -> dict[str, Any]:
    """Never unready: without the database the package's data still decides the dates."""
    today = today or calendar_service.business_today()
    check: dict[str, Any] = {"ok": True}
    calendar = WorkingCalendar()
    if not database_ok:
        check["admin_data"] = "unavailable (database): package data only"
    else:
        try:
            calendar = await asyncio.wait_for(_current_calendar(runtime), timeout=CHECK_TIMEOUT_S)
        except Exception as exc:
            check["admin_data"] = f"unavailable ({type(exc).__name__}): package data only"
    check["coverage_end"] = calendar.coverage_end().isoformat()
    warning = calendar.coverage_warning(today)
    if warning is not None:
        check["warning"] = warning
    return check


async def check_readiness(runtime: Runtime, *, today: date | None = None) -> ReadinessReport:
    """Probe every dependency; `today` (Asia/Shanghai) is for tests of the calendar entry."""
    report = ReadinessReport()
    backends = {
        "database": ("sqlite" if runtime.settings.uses_sqlite else "postgresql", _database),
        "redis": ("embedded" if runtime.settings.uses_embedded_redis else "redis", _redis),
    }
    for name, (backend, probe) in backends.items():
        try:
            await asyncio.wait_for(probe(runtime), timeout=CHECK_TIMEOUT_S)
            report.checks[name] = {"ok": True, "backend": backend}
        except Exception as exc:
            log.warning("readiness.check_failed", check=name, error=repr(exc))
            report.checks[name] = {"ok": False, "backend": backend, "error": type(exc).__name__}
    report.checks["calendar"] = await check_calendar(
        runtime, today=today, database_ok=report.checks["database"]["ok"]
    )
    return report
