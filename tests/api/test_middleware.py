from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
import structlog
import uvicorn

from api.app import create_app
from api.middleware import loggable_query
from candor.logging import configure_logging
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
    started = time.perf_counter()
    # The finding's 60,000 characters: httpx refuses URLs above 64 KiB.
    response = await client.get("/" + "a" * 60_000 + "@")
    elapsed = time.perf_counter() - started
    logged = capsys.readouterr().err
    structlog.reset_defaults()

    assert response.status_code == 404
    assert elapsed < 0.5
    assert "truncated, 60002 chars" in logged
