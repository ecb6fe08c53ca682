from __future__ import annotations

import httpx
import pytest


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
