"""The HR console: server-rendered pages under /console (see docs/console.md)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import (
    admin,
    approvals,
    audit,
    auth,
    conversations,
    kpis,
    nlu_review,
    notifications,
    privacy,
    scheduling,
    template_editor,
    webhooks,
)
from api.console.deps import ConsoleHTTPError, LoginRequiredError
from api.console.i18n import LocaleMiddleware
from api.console.rendering import STATIC_DIR, page


def install_console(app: FastAPI) -> None:
    """Mount the console's pages, its static files and its HTML error pages on `app`."""
    app.add_middleware(LocaleMiddleware)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for module in (
        auth,
        approvals,
        conversations,
        template_editor,
        kpis,
        audit,
        admin,
        webhooks,
        nlu_review,
        notifications,
        privacy,
        scheduling,
    ):
        app.include_router(module.router)

    @app.exception_handler(LoginRequiredError)
    async def _login_required(_request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/console/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(ConsoleHTTPError)
    async def _console_error(request: Request, exc: ConsoleHTTPError) -> Response:
        return page(
            request,
            "error.html",
            None,
            status_code=exc.status_code,
            message=exc.message,
        )
