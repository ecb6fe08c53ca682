"""What the app reveals and whom it believes, by environment and configured proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from candor.runtime import Runtime
from candor.settings import Environment
from tests.console_world import login_csrf, set_password, use_up_login_rate
from tests.outreach_world import World

DOCS = ("/docs", "/redoc", "/openapi.json")
CLIENT = "203.0.113.9"  # the address the test transport does not have


@asynccontextmanager
async def served(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with some settings changed, reached from 127.0.0.1 like a local proxy."""
    app = create_app(
        runtime=replace(runtime, settings=runtime.settings.model_copy(update=settings))
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
            base_url="https://candor.test",
        ) as http,
    ):
        yield http


async def test_development_serves_the_api_docs_without_hsts(runtime: Runtime) -> None:
    async with served(runtime, env=Environment.DEVELOPMENT) as http:
        answers = [await http.get(path) for path in DOCS]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "/api/v1/ats/events" in answers[2].json()["paths"]
    assert all("strict-transport-security" not in a.headers for a in answers)


@pytest.mark.parametrize("env", [Environment.TEST, Environment.PRODUCTION])
async def test_outside_development_the_docs_are_gone_and_hsts_is_sent(
    runtime: Runtime, env: Environment
) -> None:
    async with served(runtime, env=env) as http:
        answers = [await http.get(path) for path in DOCS]
        health = await http.get("/healthz")

    assert [a.status_code for a in answers] == [404, 404, 404]
    for answer in [*answers, health]:
        assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def _log_in(http: httpx.AsyncClient, email: str, forwarded_for: str) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for}
    form = await http.get("/console/login", headers=headers)
    return await http.post(
        "/console/login",
        data={"email": email, "password": "correct horse", "csrf_token": login_csrf(form.text)},
        headers=headers,
    )


async def _rate_limit(world: World, address: str) -> None:
    await use_up_login_rate(world.runtime, address)


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(world: World) -> None:
    email = await set_password(world.runtime, world.recruiter.id, "correct horse")
    await _rate_limit(world, "127.0.0.1")

    async with served(world.runtime) as http:  # no trusted proxies: the default
        answer = await _log_in(http, email, forwarded_for=CLIENT)

    # Still counted against the peer's own address, however the header names another.
    assert answer.status_code == 429


async def test_a_trusted_proxy_names_the_client_that_login_throttling_counts(
    world: World,
) -> None:
    email = await set_password(world.runtime, world.recruiter.id, "correct horse")
    await _rate_limit(world, CLIENT)

    async with served(world.runtime, trusted_proxies=[ip_network("127.0.0.0/8")]) as http:
        limited = await _log_in(http, email, forwarded_for=CLIENT)
        # A client's own claim, left of what the proxy appended, is not believed either.
        spoofed = await _log_in(http, email, forwarded_for=f"198.51.100.1, {CLIENT}")
        other = await _log_in(http, email, forwarded_for="198.51.100.7")

    assert limited.status_code == 429
    assert spoofed.status_code == 429
    assert other.status_code == 303
