"""One error shape for every failure: `{"error": {"code", "message", "details"?}}`.

The `code` never changes with the language; the `message` is English unless the request's
Accept-Language prefers Chinese (zh*), when it comes from the console's zh_CN catalogue: the
message itself where the catalogue has it (every literal `ApiError` message is extracted),
else a general wording for its code, else the English message.

Every domain error is a `candor.errors.CandorError` and has one handler here; routes raise
or let through, and map nothing by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.i18n import N_, negotiate, translations
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


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable and machine-readable: clients branch on it")
    message: str = Field(description="For people")
    details: Any = Field(default=None, description="Optional structure: a list of problems")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


Documented = dict[int | str, dict[str, Any]]

INVALID_REQUEST = {422: "`invalid_request`: the request does not match the schema"}
DATABASE_UNAVAILABLE = {503: "`database_unavailable`: the connection was lost; retry"}
HR_TOKEN = {
    401: "Missing, unknown or revoked token, or a deactivated HR user",
    403: "Not an HR user's personal token (`insufficient_scope`)",
    **INVALID_REQUEST,
    **DATABASE_UNAVAILABLE,
}
INTEGRATION_TOKEN = {
    401: "Missing, unknown or revoked integration token",
    403: "The token lacks the needed scope (`insufficient_scope`)",
    **INVALID_REQUEST,
    **DATABASE_UNAVAILABLE,
}
# A body that is not even text (not UTF-8) fails before validation, in FastAPI itself.
UNREADABLE_BODY = {400: "The body cannot be read as JSON (`http_400`)"}
IDEMPOTENT_POST = {
    400: "No `Idempotency-Key` header, or a malformed one (`idempotency_key_invalid`), or "
    "a body that cannot be read as JSON (`http_400`)",
    409: "The key was used with another request, or that request is still running "
    "(`idempotency_conflict`)",
}


def error_responses(*documented: Mapping[int, str]) -> Documented:
    """OpenAPI `responses` for error answers: each status with its description and the
    error body's schema. Later mappings win, so a route can say more about a status."""
    merged: dict[int, str] = {}
    for statuses in documented:
        merged.update(statuses)
    return {status: {"model": ErrorOut, "description": text} for status, text in merged.items()}


def document_body_limit(app: FastAPI) -> None:
    """Document the 413 that `BodySizeLimitMiddleware` can answer on every operation with a
    request body, in one place rather than on each route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        too_large = {
            "description": "The body is larger than `CANDOR_MAX_REQUEST_BYTES` (`http_413`)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" in operation:
                    operation["responses"].setdefault("413", too_large)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


# A general wording per code, for messages the catalogue does not have word for word
# (domain messages with values in them).
CODE_MESSAGES = {
    "invalid_request": N_("the request does not match the schema"),
    "database_unavailable": N_("the database connection was lost; try again"),
    "unauthenticated": N_("the request is not authenticated"),
    "insufficient_scope": N_("the token lacks the scope this needs"),
    "forbidden": N_("this is not allowed"),
    "not_found": N_("no such resource, or not in your teams"),
    "http_400": N_("the request cannot be read"),
    "http_404": N_("Not Found"),
    "http_405": N_("Method Not Allowed"),
    "http_413": N_("the request body is too large"),
    "idempotency_key_invalid": N_("the Idempotency-Key header is missing or malformed"),
    "idempotency_conflict": N_("the Idempotency-Key was used with another request, or it runs"),
}


def localised_message(request: Request, code: str, message: str) -> str:
    """`message` in the language Accept-Language prefers: Chinese for zh*, else English."""
    locale = negotiate(request.headers.get("accept-language"), default="en")
    if locale == "en":
        return message
    catalogue = translations(locale)
    translated = catalogue.gettext(message)
    if translated != message:
        return translated
    general = CODE_MESSAGES.get(code)
    return catalogue.gettext(general) if general is not None else message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CandorError)
    async def _candor_error(request: Request, exc: CandorError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(
            error_body(
                exc.code, localised_message(request, exc.code, exc.message), exc.details or None
            ),
            status_code=exc.http_status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return JSONResponse(
            error_body(
                "invalid_request",
                localised_message(
                    request, "invalid_request", "the request does not match the schema"
                ),
                details,
            ),
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
            error_body(
                "database_unavailable",
                localised_message(
                    request,
                    "database_unavailable",
                    "the database connection was lost; try again",
                ),
            ),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = f"http_{exc.status_code}"
        return JSONResponse(
            error_body(code, localised_message(request, code, str(exc.detail))),
            status_code=exc.status_code,
            headers=exc.headers,
        )
