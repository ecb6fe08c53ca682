"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep
from candor.health import check_readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database and Redis answer (calendar coverage is a warning only)",
    responses={503: {"description": "Not ready: the report names what failed"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    report = await check_readiness(runtime)
    return JSONResponse(report.as_dict(), status_code=200 if report.ready else 503)
