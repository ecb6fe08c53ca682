"""One error shape for every failure: `{"error": {"code", "message", "details"?}}`.

Every domain error is a `candor.errors.CandorError` and has one handler here; routes raise
or let through, and map nothing by hand."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from candor.errors import CandorError
from candor.logging import get_logger

log = get_logger(__name__)


class ApiError(CandorError):
    """A failure the API layer itself finds (authentication, a missing row, a bad body)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message, code=code, http_status=status_code)

    @property
    def status_code(self) -> int:
        # The name pages that turn an API error into an HTML one still read.
        return self.http_status


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CandorError)
    async def _candor_error(_request: Request, exc: CandorError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details or None),
            status_code=exc.http_status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "the request does not match the schema", details),
            status_code=422,
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # A lost connection (a database restart, a failover) is transient: pooled connections
        # are only pinged after sitting idle, so the first statement on each recently used one
        # fails once, and the pool is then replaced. Anything else is a bug: a 500 as ever.
        if not exc.connection_invalidated:
            raise exc
        log.warning("http.database_unavailable", path=request.url.path, error=str(exc.orig))
        return JSONResponse(
            error_body("database_unavailable", "the database connection was lost; try again"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(f"http_{exc.status_code}", str(exc.detail)),
            status_code=exc.status_code,
            headers=exc.headers,
        )
