"""Console test helpers: HR users with passwords, and logging in through the real form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from candor.auth import throttle
from candor.auth.passwords import hash_password
from candor.clock import utcnow
from candor.models import HRUser
from candor.runtime import Runtime
from tests.outreach_world import World

PASSWORD = "correct horse battery staple"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def set_password(runtime: Runtime, user_id: int, password: str = PASSWORD) -> str:
    """Give the user a password; returns their e-mail for the login form."""
    async with runtime.transaction() as session:
        user = await session.get_one(HRUser, user_id)
        user.password_hash = hash_password(password)
        return user.email


async def use_up_login_rate(runtime: Runtime, address: str) -> None:
    """Spend the address's login attempts for this minute (each for a different account, so
    no account or pair is slowed down by them)."""
    for n in range(throttle.ATTEMPTS_PER_MINUTE):
        started = await throttle.begin(
            runtime.redis,
            email=f"rate-{n}@example.com",
            address=address,
            device_cookie=None,
            secret=runtime.settings.secret_key.get_secret_value(),
            now=utcnow(),
        )
        assert isinstance(started, throttle.Attempt), started


def login_csrf(html: str) -> str:
    found = _CSRF_INPUT.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def session_csrf(html: str) -> str:
    found = _CSRF_META.search(html)
    assert found is not None, "the page carries no session CSRF token"
    return found.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Fill in the login form as a browser would; returns the answer to the POST."""
    form = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": login_csrf(form.text)},
    )


async def logged_in(client: httpx.AsyncClient, runtime: Runtime, user_id: int) -> str:
    """Log the user in; returns the session's CSRF token for posting forms."""
    email = await set_password(runtime, user_id)
    answer = await login(client, email)
    assert answer.status_code == 303, answer.text
    inbox = await client.get("/console/inbox")
    assert inbox.status_code == 200, inbox.text
    return session_csrf(inbox.text)


async def post_form(
    client: httpx.AsyncClient,
    path: str,
    csrf: str,
    *,
    headers: dict[str, str] | None = None,
    **fields: str | list[str],
) -> httpx.Response:
    """Submit a console form as its page would: the fields and the session's CSRF token."""
    return await client.post(path, data={"csrf_token": csrf, **fields}, headers=headers)


@pytest.fixture
async def console(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the console: HTTPS (the session cookie is Secure outside
    development), cookies kept, redirects not followed so tests see them. It prefers
    English, as the factory's users do: the login page (no user yet) follows Accept-Language."""
    app = create_app(runtime=world.runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="https://candor.test",
            headers={"Accept-Language": "en"},
        ) as http,
    ):
        yield http
