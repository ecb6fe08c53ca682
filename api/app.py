"""The FastAPI application: API, operations endpoints and (later) channel webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import candor
from api.errors import install_error_handlers
from api.middleware import RequestLogMiddleware
from api.routers import approval_rules, ats, calendar, health, outreach, templates
from candor.bootstrap import ensure_reference_data
from candor.logging import configure_logging
from candor.runtime import Runtime
from candor.settings import Settings, get_settings
from candor.worker import run_worker_loops


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    with_worker: bool = False,
) -> FastAPI:
    """Build the app. A caller-supplied `runtime` is used as is and left open on shutdown.

    `with_worker` runs the background worker (outbox dispatcher and periodic jobs) inside
    this process: the embedded default's single process does everything, while scaled mode
    runs `candor worker` processes instead.
    """
    settings = runtime.settings if runtime is not None else (settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        owned = runtime is None
        app.state.runtime = runtime or Runtime.create(settings)
        await ensure_reference_data(app.state.runtime)
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker_loops(app.state.runtime, stop)) if with_worker else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            if owned:
                await app.state.runtime.aclose()

    app = FastAPI(
        title="Candor",
        version=candor.__version__,
        summary="Every candidate hears back: result outreach, candidate chat and HR control.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestLogMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ats.router)
    app.include_router(calendar.router)
    app.include_router(outreach.router)
    app.include_router(templates.router)
    app.include_router(approval_rules.router)
    return app
