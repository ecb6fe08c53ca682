"""Request logging: one `http.request` line per request, tied together by a request id."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qsl

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor import metrics
from candor.logging import MAX_LOGGED_CHARS, PERSONAL_KEYS, get_logger

log = get_logger("api.request")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Query parameters that carry credentials or identify a person: a bind link still works, and
# a WeChat signature with its nonce and timestamp could sign a forged message.
SECRET_QUERY_KEYS = PERSONAL_KEYS | {
    "bind",
    "code",
    "echostr",
    "msg_signature",
    "nonce",
    "reserved",
    "signature",
    "access_token",
}


def loggable_query(query_string: bytes) -> str:
    """The decoded query with secret values replaced, so the structured log can mask the rest.

    Only the first `MAX_LOGGED_CHARS` bytes are read: a cut value loses its tail, never its
    key, so a secret cut short is still recognised and replaced.
    """
    pairs = parse_qsl(
        query_string[:MAX_LOGGED_CHARS].decode("utf-8", "replace"),
        keep_blank_values=True,
        encoding="utf-8",
        errors="replace",
    )
    shown = "&".join(
        f"{key}={'***' if key.strip().lower() in SECRET_QUERY_KEYS else value}"
        for key, value in pairs
    )
    return shown if len(query_string) <= MAX_LOGGED_CHARS else f"{shown}…[truncated]"


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        # A caller's id is echoed only if it is harmless in a log line and a header.
        request_id = incoming.decode("latin-1")
        if not _SAFE_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Appended as raw ASGI headers: nothing else sets this header, and
                # `MutableHeaders` rebuilt the list on every response.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                # The only line per request (uvicorn's access log is off): the path and a
                # query with its secrets replaced; the structured log masks and bounds both.
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    query=loggable_query(scope["query_string"]),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


# A year, the minimum the browsers' preload lists accept; subdomains too, as none of them
# should be reachable over plain HTTP either.
HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class StrictTransportSecurityMiddleware:
    """Tells browsers to use HTTPS only, on every response (outside development, where the
    server is reached over plain HTTP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), HSTS_HEADER]
            await send(message)

        await self.app(scope, receive, send_with_hsts)


class BodySizeLimitMiddleware:
    """Refuses a request body over `max_bytes` with 413, before it is held in memory.

    A declared `Content-Length` over the limit is refused before any byte is read; a body
    streamed without one (chunked) is counted as it arrives and refused at the first chunk past
    the limit. No route needs more: the largest legitimate bodies (a WeChat callback, a
    Telegram update, an ATS event, a template source) are a few KiB.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self.app(scope, self._refusing_receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, counting_receive, send)

    async def _refusing_receive(self) -> Message:
        raise self._too_large()

    def _too_large(self) -> HTTPException:
        # Raised from `receive`, so the app's one HTTP error handler answers it: the route
        # reading the body stops there, having written nothing.
        return HTTPException(413, f"the request body is larger than {self.max_bytes} bytes")


WECHAT_CALLBACK_ROUTE = "/wechat/callback"


class MetricsMiddleware:
    """Times every request into `candor_http_request_duration_seconds` by its route template
    (never the raw path: `/api/v1/applications/{code}`, not one series per code), and the
    WeChat message callback's acknowledgement into `candor_wechat_callback_ack_seconds`.

    The template is the route the router matched (it leaves it in the scope); a mount (the
    console's static files) is named by its prefix, and a path no route matched is
    `unmatched`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope, root_path)
            metrics.observe_http(scope["method"], route, status, elapsed)
            if route == WECHAT_CALLBACK_ROUTE and scope["method"] == "POST":
                metrics.observe_wechat_ack(elapsed)


def _route_template(scope: Scope, root_path: str) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    mounted = scope.get("root_path", "")
    if isinstance(mounted, str) and mounted != root_path and mounted.startswith(root_path):
        return f"{mounted[len(root_path) :]}/{{path}}"
    return "unmatched"
