"""Console login, sessions, throttling and CSRF, through the real pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from fastapi import routing

from api.app import create_app
from candor.auth import throttle
from candor.logging import configure_logging
from candor.models import HRUser
from candor.models.enums import Role
from candor.settings import Settings
from tests.console_world import (
    PASSWORD,
    logged_in,
    login,
    login_csrf,
    session_csrf,
    set_password,
    use_up_login_rate,
)
from tests.outreach_world import World


async def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)

    answer = await login(console, email)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/inbox"
    cookie = answer.headers["set-cookie"]
    assert "candor_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" in cookie  # CANDOR_ENV=test: not development
    inbox = await console.get("/console/inbox")
    assert inbox.status_code == 200
    assert "Approvals" in inbox.text

    out = await console.post("/console/logout", data={"csrf_token": session_csrf(inbox.text)})
    assert out.status_code == 303
    # The server forgot the session: replaying the old cookie does not get back in.
    console.cookies.set("candor_session", cookie.split("candor_session=")[1].split(";")[0])
    again = await console.get("/console/inbox")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/console/login")


async def test_pages_forbid_framing_foreign_scripts_and_caching(
    console: httpx.AsyncClient,
) -> None:
    page = await console.get("/console/login")

    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


async def test_pages_redirect_to_login_without_a_session(console: httpx.AsyncClient) -> None:
    answer = await console.get("/console/kpis")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/kpis"


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)

    wrong = await login(console, email, "not the password")
    unknown = await login(console, "nobody@example.com", PASSWORD)

    assert wrong.status_code == unknown.status_code == 401
    assert "unknown e-mail address or wrong password" in wrong.text
    assert "unknown e-mail address or wrong password" in unknown.text
    assert "candor_session" not in wrong.headers.get("set-cookie", "")


@asynccontextmanager
async def browser_at(world: World, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, at another client address, on the same Redis and database."""
    app = create_app(runtime=world.runtime)
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="https://candor.test",
            headers={"Accept-Language": "en"},  # the login page speaks it
        ) as http,
    ):
        yield http


async def test_a_login_marks_the_browser_as_a_known_device(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)

    answer = await login(console, email)

    [device] = [c for c in answer.headers.get_list("set-cookie") if c.startswith("candor_device=")]
    assert "HttpOnly" in device
    assert "SameSite=strict" in device
    assert "Secure" in device  # CANDOR_ENV=test: not development
    assert "Path=/console/login" in device
    assert f"Max-Age={30 * 24 * 3600}" in device


async def test_attackers_wrong_passwords_do_not_keep_the_user_out_of_their_known_browser(
    console: httpx.AsyncClient, world: World
) -> None:
    """The review's finding: five wrong passwords locked the account for everyone."""
    email = await set_password(world.runtime, world.recruiter.id)
    assert (await login(console, email)).status_code == 303
    console.cookies.delete("candor_session")  # logged out; the device cookie stays

    answers = []
    for n in range(5):  # fifty guesses from five addresses
        async with browser_at(world, f"203.0.113.{n}") as attacker:
            answers += [(await login(attacker, email, f"guess {i}")).status_code for i in range(10)]
    # Each address is slowed after its own failures, the account after all of theirs.
    assert answers.count(401) == throttle.ACCOUNT_FAILURES_BEFORE_DELAY
    assert answers.count(429) == 50 - throttle.ACCOUNT_FAILURES_BEFORE_DELAY

    async with browser_at(world, "198.51.100.20") as second_browser:
        slowed = await login(second_browser, email)
    assert slowed.status_code == 429
    assert "unknown devices" in slowed.text
    assert 0 < int(slowed.headers["retry-after"]) <= throttle.MAX_DELAY.total_seconds()

    known = await login(console, email)
    assert known.status_code == 303
    assert (await console.get("/console/inbox")).status_code == 200


async def test_a_throttled_login_is_logged_masked_and_without_the_password(
    console: httpx.AsyncClient, world: World, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)
    configure_logging(settings)  # onto the stderr capsys captures
    for n in range(throttle.PAIR_FAILURES_BEFORE_DELAY):
        await login(console, email, f"secret guess {n}")

    refused = await login(console, email, "secret guess 99")
    logged = capsys.readouterr().err
    structlog.reset_defaults()

    assert refused.status_code == 429
    assert "too many failed logins for this account from here" in refused.text
    assert "console.login_throttled" in logged
    assert "pair" in logged
    assert email not in logged
    assert email[:1] + "***@" in logged
    assert "secret guess" not in logged


async def test_login_attempts_are_rate_limited_per_address(
    console: httpx.AsyncClient, world: World
) -> None:
    await use_up_login_rate(world.runtime, "127.0.0.1")
    email = await set_password(world.runtime, world.recruiter.id)

    answer = await login(console, email)

    assert answer.status_code == 429
    assert "too many login attempts" in answer.text
    assert 0 < int(answer.headers["retry-after"]) <= 60


async def test_login_form_refuses_a_post_without_its_csrf_cookie(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)
    form = await console.get("/console/login")
    token = login_csrf(form.text)
    console.cookies.clear()

    answer = await console.post(
        "/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )

    assert answer.status_code == 403
    assert "candor_session" not in answer.headers.get("set-cookie", "")


async def test_next_only_leads_within_the_console(console: httpx.AsyncClient, world: World) -> None:
    email = await set_password(world.runtime, world.recruiter.id)
    form = await console.get("/console/login?next=https://evil.example/")
    answer = await console.post(
        "/console/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": login_csrf(form.text),
            "next": "//evil.example/",
        },
    )
    assert answer.headers["location"] == "/console/inbox"


async def test_every_console_post_refuses_a_missing_or_wrong_csrf_token(
    console: httpx.AsyncClient, world: World
) -> None:
    """Enumerated from the app, so a new console form is covered without editing this."""
    await logged_in(console, world.runtime, world.recruiter.id)
    app = create_app(runtime=world.runtime)
    posts = [
        context.path
        for context in routing.iter_route_contexts(app.routes)
        if context.path is not None
        and context.path.startswith("/console/")
        and "POST" in (getattr(context, "methods", None) or ())
        and context.path != "/console/login"  # before a session: its own cookie check
    ]
    assert "/console/messages/{message_id}/approve" in posts
    for path in posts:
        url = re.sub(r"\{[a-z_]+\}", "1", path.replace("{key}", "reject.zh-CN"))
        for data in ({}, {"csrf_token": "forged"}):
            answer = await console.post(url, data=data)
            assert answer.status_code == 403, (path, data, answer.status_code)


async def test_deactivated_users_lose_their_session(
    console: httpx.AsyncClient, world: World
) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)
    async with world.runtime.transaction() as session:
        (await session.get_one(HRUser, world.recruiter.id)).is_active = False

    answer = await console.get("/console/inbox")

    assert answer.status_code == 303


async def test_audit_page_is_for_admins(console: httpx.AsyncClient, world: World) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)
    assert (await console.get("/console/audit")).status_code == 403
    admin, _ = await world.member(Role.ADMIN)
    console.cookies.clear()
    await logged_in(console, world.runtime, admin.id)
    assert (await console.get("/console/audit")).status_code == 200
