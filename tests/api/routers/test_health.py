from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from candor.runtime import Runtime
from candor.settings import Settings


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
    assert liveness.status_code == 200


async def test_openapi_documents_the_ats_endpoint(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/ats/events" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
