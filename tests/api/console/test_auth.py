"""Console login, sessions, throttling and CSRF, through the real pages."""

from __future__ import annotations

import re

import httpx
from fastapi import routing

from api.app import create_app
from candor.auth import throttle
from candor.models import HRUser
from candor.models.enums import Role
from tests.console_world import (
    PASSWORD,
    logged_in,
    login,
    login_csrf,
    session_csrf,
    set_password,
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


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)
    for _ in range(throttle.USER_FAILURES_TO_LOCK - 1):
        assert (await login(console, email, "guess")).status_code == 401

    locked = await login(console, email, "guess")
    assert locked.status_code == 429
    assert "locked" in locked.text
    assert int(locked.headers["retry-after"]) > 0

    right = await login(console, email, PASSWORD)
    assert right.status_code == 429
    # Another account from the same address is not locked by this one's failures.
    other = await set_password(world.runtime, world.outsider.id)
    assert (await login(console, other)).status_code == 303


async def test_login_attempts_are_rate_limited_per_address(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.runtime.redis.set("candor:login:rate:ip:127.0.0.1", throttle.ATTEMPTS_PER_MINUTE)
    email = await set_password(world.runtime, world.recruiter.id)

    answer = await login(console, email)

    assert answer.status_code == 429
    assert "too many login attempts" in answer.text


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
