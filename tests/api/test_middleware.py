from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
import uvicorn
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from api.app import create_app
from api.middleware import loggable_query
from candor.logging import configure_logging
from candor.models import ChatMessage
from candor.runtime import Runtime
from candor.settings import Settings
from tests.fakes import free_port


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")

    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("trace-abc.123", True), ("bad id\r\nx: y", False), ("x" * 65, False)],
    ids=["safe", "header-injection", "too-long"],
)
async def test_a_callers_request_id_is_echoed_only_when_safe(
    client: httpx.AsyncClient, sent: str, echoed: bool
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": sent.replace("\r\n", " ")})

    assert (response.headers["X-Request-ID"] == sent.replace("\r\n", " ")) is echoed


SECRETS = {
    "bind": "BindTokenStillWorks42",
    "openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
    "signature": "5f1c0b0f9d3c7e3a9b6a1c2d3e4f5a6b7c8d9e0f",
    "msg_signature": "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
    "nonce": "NonceUsedOnce77",
    "echostr": "EchoStrChallenge99",
    "reserved": "ReservedOpaque55",
    "code": "AuthCode314159",
    # A data-export link's token rides in the path: a link preview's GET logs it.
    "export": "ExportLinkToken_0123456789abcdef",
}
SECRET_URLS = [
    f"/chat?bind={SECRETS['bind']}",
    f"/wechat/subscribe?openid={SECRETS['openid']}&template_id=t1&action=confirm&scene=1"
    f"&reserved={SECRETS['reserved']}",
    f"/wechat?signature={SECRETS['signature']}&timestamp=1700000000&nonce={SECRETS['nonce']}"
    f"&echostr={SECRETS['echostr']}",
    f"/wechat?msg_signature={SECRETS['msg_signature']}&timestamp=1700000000"
    f"&nonce={SECRETS['nonce']}&openid={SECRETS['openid']}&encrypt_type=aes",
    f"/chat?Code={SECRETS['code']}&lang=zh",
    f"/privacy/exports/{SECRETS['export']}",
]


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_no_secret_in_a_query_reaches_any_log(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    # Served the way `uvicorn api.main:app` serves it, access log left at uvicorn's default.
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="info")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no "started" event to await
        await asyncio.sleep(0.01)
    access_log = _Collected()
    logging.getLogger("uvicorn.access").addHandler(access_log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for url in SECRET_URLS:
                await http.get(url)
    finally:
        logging.getLogger("uvicorn.access").removeHandler(access_log)
        server.should_exit = True
        await task
    logged = capsys.readouterr().err + "\n".join(access_log.lines)
    structlog.reset_defaults()

    assert logged.count("http.request") == len(SECRET_URLS)
    assert "template_id=t1" in logged
    assert "lang=zh" in logged
    assert "/privacy/exports/***" in logged
    for secret in SECRETS.values():
        assert secret not in logged
        assert secret[:8] not in logged


def test_a_loggable_query_replaces_secrets_however_they_are_spelled() -> None:
    query = loggable_query(b"OpenID=o6_bmjrPTlm&bind%20=abc&sig%6eature=s1&page=2&q=%E5%BC%A0")

    assert query == "OpenID=***&bind =***&signature=***&page=2&q=张"


def test_a_cut_query_still_hides_the_secret_it_cuts() -> None:
    query = loggable_query(b"page=1&token=" + b"T" * 10_000)

    assert query == "page=1&token=***…[truncated]"


async def test_a_huge_path_is_logged_without_stalling_the_server(
    client: httpx.AsyncClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Onto the stderr capsys captures: the app's start-up configured logging before it.
    configure_logging(settings)
    # FastAPI prepares each route on the first request that tries it (a 404 tries them all,
    # about 0.8 s): that is start-up, not the huge path, so it is paid before the clock runs.
    assert (await client.get("/no-such-page")).status_code == 404
    started = time.perf_counter()
    # The finding's 60,000 characters: httpx refuses URLs above 64 KiB.
    response = await client.get("/" + "a" * 60_000 + "@")
    elapsed = time.perf_counter() - started
    logged = capsys.readouterr().err
    structlog.reset_defaults()

    assert response.status_code == 404
    assert elapsed < 0.5
    assert "truncated, 60002 chars" in logged


async def _served_on_uvloop(runtime: Runtime) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime),
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            log_level="error",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no "started" event to await
        await asyncio.sleep(0.01)
    return server, task, port


async def test_an_oversized_body_is_refused_before_it_is_read(runtime: Runtime) -> None:
    limit = runtime.settings.max_request_bytes

    async def streamed(size: int) -> AsyncIterator[bytes]:
        # Chunked, with no Content-Length to refuse it by: counted as it arrives.
        chunk = b'{"text": "' + b"x" * 65_536
        for _ in range(size // len(chunk) + 1):
            yield chunk

    async with (
        LifespanManager(create_app(runtime=runtime)) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://candor.test"
        ) as http,
    ):
        await http.get("/chat")  # a web-chat session, so a body within the limit is taken
        declared = await http.post(
            "/chat/api/messages",
            content=b"{}",
            headers={"content-length": str(limit + 1), "content-type": "application/json"},
        )
        chunked = await http.post(
            "/chat/api/messages",
            content=streamed(limit + 1),
            headers={"content-type": "application/json"},
        )
        within = await http.post("/chat/api/messages", json={"text": "你好" * 500})
    async with runtime.sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(ChatMessage))

    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "http_413"
    assert within.status_code == 200
    assert stored == 2  # the one message within the limit and its answer


async def test_the_limit_holds_under_uvicorn_on_uvloop(runtime: Runtime) -> None:
    server, task, port = await _served_on_uvloop(runtime)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            refused = await http.post(
                "/api/v1/ats/events",
                content=b"[" * (runtime.settings.max_request_bytes + 1),
                headers={"content-type": "application/json", "authorization": "Bearer x"},
            )
            alive = await http.get("/healthz")
    finally:
        server.should_exit = True
        await task

    assert refused.status_code == 413
    assert alive.status_code == 200


def test_every_operation_with_a_body_documents_the_413(settings: Settings) -> None:
    schema = create_app(settings).openapi()
    with_body = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]

    assert {path for path, _, _ in with_body} >= {"/api/v1/ats/events", "/chat/api/messages"}
    for path, method, operation in with_body:
        assert "413" in operation["responses"], (method, path)
