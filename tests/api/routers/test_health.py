from __future__ import annotations

from datetime import date, timedelta

import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from candor.health import check_calendar, check_readiness
from candor.runtime import Runtime
from candor.settings import Settings
from candor.sla import service
from candor.sla.calendar import COVERAGE_HORIZON_DAYS
from candor.sla.schedule import YearSchedule
from candor.sla.service import business_today

# Test data for 2027, not the official schedule.
YEAR_2027 = YearSchedule.model_validate(
    {"year": 2027, "holidays": [{"name": "元旦", "dates": ["2027-01-01"]}]}
)


async def test_healthz_is_always_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == {
        "ok": True,
        "backend": "sqlite" if runtime.settings.uses_sqlite else "postgresql",
    }
    assert checks["redis"]["ok"] is True
    calendar = checks["calendar"]
    assert calendar["ok"] is True
    assert calendar["coverage_end"] >= "2026-12-31"
    assert ("warning" in calendar) == (
        date.fromisoformat(calendar["coverage_end"])
        < business_today() + timedelta(days=COVERAGE_HORIZON_DAYS)
    )


async def test_the_calendar_warns_within_60_days_of_its_data_end_but_stays_ready(
    runtime: Runtime,
) -> None:
    near_end = await check_readiness(runtime, today=date(2026, 11, 25))
    early = await check_calendar(runtime, today=date(2026, 9, 1))
    async with runtime.transaction() as session:
        await service.load_year(session, YEAR_2027, source="test")
    loaded = await check_calendar(runtime, today=date(2026, 11, 25))

    assert near_end.ready
    assert near_end.checks["calendar"]["ok"] is True
    assert near_end.checks["calendar"]["coverage_end"] == "2026-12-31"
    assert "through 2026-12-31" in near_end.checks["calendar"]["warning"]
    assert early == {"ok": True, "coverage_end": "2026-12-31"}
    assert loaded == {"ok": True, "coverage_end": "2027-12-31"}


async def test_readyz_is_503_naming_what_is_unreachable() -> None:
    # Port 1 on loopback refuses connections at once: a database and a Redis that are down.
    settings = Settings(
        env="test",
        secret_key="x" * 40,
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/candor",
        redis_url="redis://127.0.0.1:1/0",
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/readyz")
        liveness = await http.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["calendar"]["ok"] is True
    assert "package data only" in body["checks"]["calendar"]["admin_data"]
    assert liveness.status_code == 200


async def test_openapi_documents_the_ats_endpoint(runtime: Runtime) -> None:
    spec = create_app(runtime=runtime).openapi()
    assert "/api/v1/ats/events" in spec["paths"]
