"""Readiness checks: each dependency is probed with a short timeout and reported by name."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from candor.logging import get_logger
from candor.runtime import Runtime

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


async def check_readiness(runtime: Runtime) -> ReadinessReport:
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
    return report
