"""Access administration in the console: users, API tokens and teams, through the pages."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import routing
from sqlalchemy import func, select

from api.app import create_app
from candor.auth import throttle
from candor.auth.passwords import verify_password
from candor.auth.principals import load_principal
from candor.clock import utcnow
from candor.models import ApiToken, AuditEntry, HRUser, Team, TeamMembership
from candor.models.enums import Role
from tests.console_world import PASSWORD, logged_in, login, post_form, set_password
from tests.factories import application_created
from tests.outreach_world import World, hr

NEW_PASSWORD = "a brand new passphrase 2026"
_TOKEN = re.compile(r'aria-label="New token" value="(cnd_[^"]+)"')


async def as_admin(console: httpx.AsyncClient, world: World) -> tuple[HRUser, str]:
    """A fresh admin (no team) logged in; returns them and the session's CSRF token."""
    admin, _ = await world.member(Role.ADMIN)
    return admin, await logged_in(console, world.runtime, admin.id)


async def count(world: World, model: type) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def audit_rows(world: World, action: str) -> list[AuditEntry]:
    async with world.runtime.sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def get_user(world: World, user_id: int) -> HRUser:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(HRUser, user_id)


def problem(html: str, field: str) -> str:
    """The problem shown next to a form field."""
    found = re.search(rf'id="{re.escape(field)}-problem" role="alert">([^<]*)<', html)
    assert found is not None, f"no problem shown for {field}"
    return found.group(1)


async def lock_out(world: World, email: str) -> None:
    """Wrong passwords from enough addresses that untrusted browsers must wait."""
    for n in range(throttle.ACCOUNT_FAILURES_BEFORE_DELAY):
        started = await throttle.begin(
            world.runtime.redis,
            email=email,
            address=f"10.1.2.{n}",
            device_cookie=None,
            secret=world.runtime.settings.secret_key.get_secret_value(),
            now=utcnow(),
        )
        assert isinstance(started, throttle.Attempt)
        await throttle.failed(world.runtime.redis, started)


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.TEAM_LEAD])
async def test_only_admins_reach_the_access_pages_and_actions(
    console: httpx.AsyncClient, world: World, role: Role
) -> None:
    member, _ = await world.member(role, world.team)
    csrf = await logged_in(console, world.runtime, member.id)
    users_before = await count(world, HRUser)
    tokens_before = await count(world, ApiToken)

    for path in ("/console/admin/users", "/console/admin/tokens", "/console/admin/teams"):
        answer = await console.get(path)
        assert answer.status_code == 403, path
        assert "only an admin" in answer.text
    created = await post_form(
        console,
        "/console/admin/users",
        csrf,
        email="sneaky@example.com",
        display_name="Sneaky",
        role="admin",
        password=NEW_PASSWORD,
    )
    promoted = await post_form(
        console, f"/console/admin/users/{member.id}", csrf, display_name="x", role="admin"
    )
    token = await post_form(console, "/console/admin/tokens", csrf, name="x", scopes="ats:write")

    assert created.status_code == promoted.status_code == token.status_code == 403
    assert await count(world, HRUser) == users_before
    assert (await get_user(world, member.id)).role is role
    assert await count(world, ApiToken) == tokens_before
    home = await console.get("/console/inbox")
    assert "/console/admin/users" not in home.text  # no link to what they cannot open


async def test_every_admin_form_refuses_a_missing_or_forged_csrf_token(
    console: httpx.AsyncClient, world: World
) -> None:
    """As an admin, so the refusal is the CSRF check's and not the role's."""
    await as_admin(console, world)
    app = create_app(runtime=world.runtime)
    posts = [
        context.path
        for context in routing.iter_route_contexts(app.routes)
        if context.path is not None
        and context.path.startswith("/console/admin/")
        and "POST" in (getattr(context, "methods", None) or ())
    ]
    assert "/console/admin/users/{user_id}/deactivate" in posts
    assert "/console/admin/tokens/{token_id}/revoke" in posts
    assert "/console/admin/teams/{team_id}" in posts
    audit_before = await count(world, AuditEntry)
    fields = {"email": "x@example.com", "display_name": "X", "role": "admin", "name": "x"}
    for path in posts:
        url = path.replace("{user_id}", str(world.recruiter.id))
        url = url.replace("{team_id}", str(world.team.id)).replace("{token_id}", "1")
        for csrf in ({}, {"csrf_token": "forged"}):
            answer = await console.post(url, data={**fields, "password": NEW_PASSWORD, **csrf})
            assert answer.status_code == 403, (path, csrf, answer.status_code)
            assert "security token" in answer.text
    assert await count(world, AuditEntry) == audit_before
    recruiter = await get_user(world, world.recruiter.id)
    assert recruiter.is_active
    assert recruiter.role is Role.RECRUITER


# --- users -----------------------------------------------------------------------------


async def test_the_users_page_lists_roles_teams_and_login_state(
    console: httpx.AsyncClient, world: World
) -> None:
    await set_password(world.runtime, world.recruiter.id)
    await lock_out(world, world.recruiter.email)
    async with world.runtime.transaction() as session:
        (await session.get_one(HRUser, world.outsider.id)).is_active = False
    await as_admin(console, world)

    page = await console.get("/console/admin/users")

    assert page.status_code == 200
    row = re.search(rf'<tr id="user-{world.recruiter.id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert world.recruiter.email in row.group(0)
    assert "recruiter" in row.group(0)
    assert world.team.name in row.group(0)
    assert "logins delayed" in row.group(0)
    outsider = re.search(rf'<tr id="user-{world.outsider.id}".*?</tr>', page.text, re.S)
    assert outsider is not None
    assert "deactivated" in outsider.group(0)
    assert "no password set" in outsider.group(0)


async def test_an_admin_creates_a_user_who_can_then_log_in(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, csrf = await as_admin(console, world)

    answer = await post_form(
        console,
        "/console/admin/users",
        csrf,
        email="  Zhang.Wei@Example.COM ",
        display_name="张伟",
        role="team_lead",
        team_ids=[str(world.team.id), str(world.other_team.id)],
        password=NEW_PASSWORD,
    )

    assert answer.status_code == 303
    user_id = int(answer.headers["location"].split("/")[-1].split("?")[0])
    page = await console.get(answer.headers["location"])
    assert "User created." in page.text
    user = await get_user(world, user_id)
    assert user.email == "zhang.wei@example.com"
    assert user.role is Role.TEAM_LEAD
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert await verify_password(user.password_hash, NEW_PASSWORD)
    async with world.runtime.sessionmaker() as session:
        principal = await load_principal(session, user_id)
    assert principal is not None
    assert principal.team_ids == {world.team.id, world.other_team.id}
    [entry] = await audit_rows(world, "user.created")
    assert entry.actor == f"user:{admin.id}"
    assert entry.object_id == str(user_id)
    assert entry.before is None
    assert entry.after == {
        "email": "zhang.wei@example.com",
        "display_name": "张伟",
        "role": "team_lead",
        "team_ids": sorted([world.team.id, world.other_team.id]),
        "is_active": True,
    }
    assert NEW_PASSWORD not in str(entry.after) + str(entry.details)
    trail = await console.get("/console/audit?action=user.created")
    assert f'href="/console/admin/users/{user_id}"' in trail.text

    console.cookies.clear()
    assert (await login(console, "zhang.wei@example.com", NEW_PASSWORD)).status_code == 303


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"email": "RECRUITER"}, "email", "already has an account"),
        ({"email": "not-an-address"}, "email", "@"),
        ({"email": ""}, "email", "enter an e-mail address"),
        ({"display_name": "  "}, "display_name", "enter a name"),
        ({"role": "superuser"}, "role", "choose one of"),
        ({"team_ids": ["999999"]}, "team_ids", "no such team"),
        ({"team_ids": ["abc"]}, "team_ids", "not an id"),
        ({"password": ""}, "password", "enter a password"),
        ({"password": "short"}, "password", "at least 12 characters"),
        ({"password": "new.person@example.com"}, "password", "e-mail address"),
    ],
    ids=[
        "duplicate-email",
        "invalid-email",
        "empty-email",
        "empty-name",
        "unknown-role",
        "unknown-team",
        "team-not-an-id",
        "empty-password",
        "short-password",
        "password-is-email",
    ],
)
async def test_invalid_new_users_are_refused_inline_and_nothing_is_written(
    console: httpx.AsyncClient, world: World, fields: dict[str, Any], field: str, text: str
) -> None:
    _, csrf = await as_admin(console, world)
    if fields.get("email") == "RECRUITER":
        fields = {"email": world.recruiter.email.upper()}  # addresses compare case-blind
    users_before = await count(world, HRUser)
    audit_before = await count(world, AuditEntry)
    values: dict[str, Any] = {
        "email": "new.person@example.com",
        "display_name": "新人",
        "role": "recruiter",
        "team_ids": [str(world.team.id)],
        "password": NEW_PASSWORD,
        **fields,
    }

    answer = await post_form(console, "/console/admin/users", csrf, **values)

    assert answer.status_code == 422
    assert text in problem(answer.text, field)
    assert await count(world, HRUser) == users_before
    assert await count(world, AuditEntry) == audit_before
    # The form keeps what was typed, except the password.
    assert f'value="{values["display_name"]}"' in answer.text
    assert re.search(r'name="password"[^>]*value=', answer.text) is None


async def test_editing_role_and_teams_takes_effect_at_once_and_is_audited(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, csrf = await as_admin(console, world)
    user_id = world.recruiter.id

    answer = await post_form(
        console,
        f"/console/admin/users/{user_id}",
        csrf,
        display_name="王组长",
        role="team_lead",
        team_ids=[str(world.other_team.id)],
    )

    assert answer.status_code == 303
    assert "Saved." in (await console.get(answer.headers["location"])).text
    async with world.runtime.sessionmaker() as session:
        principal = await load_principal(session, user_id)
    assert principal is not None
    assert principal.role is Role.TEAM_LEAD
    assert principal.team_ids == {world.other_team.id}
    [entry] = await audit_rows(world, "user.updated")
    assert entry.actor == f"user:{admin.id}"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["role"], entry.after["role"]) == ("recruiter", "team_lead")
    assert (entry.before["team_ids"], entry.after["team_ids"]) == (
        [world.team.id],
        [world.other_team.id],
    )
    assert entry.after["display_name"] == "王组长"

    # Saving the same values again changes nothing and writes no second row.
    again = await post_form(
        console,
        f"/console/admin/users/{user_id}",
        csrf,
        display_name="王组长",
        role="team_lead",
        team_ids=[str(world.other_team.id)],
    )
    assert again.status_code == 303
    assert len(await audit_rows(world, "user.updated")) == 1


async def test_an_invalid_edit_is_shown_inline_and_changes_nothing(
    console: httpx.AsyncClient, world: World
) -> None:
    _, csrf = await as_admin(console, world)

    answer = await post_form(
        console,
        f"/console/admin/users/{world.recruiter.id}",
        csrf,
        display_name="",
        role="team_lead",
        team_ids=[str(world.other_team.id), "424242"],
    )

    assert answer.status_code == 422
    assert "enter a name" in problem(answer.text, "display_name")
    assert "no such team: 424242" in problem(answer.text, "team_ids")
    user = await get_user(world, world.recruiter.id)
    assert user.role is Role.RECRUITER
    async with world.runtime.sessionmaker() as session:
        principal = await load_principal(session, world.recruiter.id)
    assert principal is not None
    assert principal.team_ids == {world.team.id}
    assert await audit_rows(world, "user.updated") == []


async def test_deactivation_ends_sessions_and_revokes_personal_tokens_for_good(
    console: httpx.AsyncClient, api: httpx.AsyncClient, world: World
) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)
    recruiter_cookie = console.cookies["candor_session"]
    assert (
        await api.get("/api/v1/outreach/messages", headers=hr(world.recruiter_token))
    ).is_success
    console.cookies.clear()
    admin, csrf = await as_admin(console, world)

    answer = await post_form(console, f"/console/admin/users/{world.recruiter.id}/deactivate", csrf)

    assert answer.status_code == 303
    assert not (await get_user(world, world.recruiter.id)).is_active
    refused = await api.get("/api/v1/outreach/messages", headers=hr(world.recruiter_token))
    assert refused.status_code == 401
    [entry] = await audit_rows(world, "user.deactivated")
    assert entry.actor == f"user:{admin.id}"
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)
    assert entry.details["sessions_ended"] == 1
    assert len(entry.details["tokens_revoked"]) == 1

    reactivated = await post_form(
        console, f"/console/admin/users/{world.recruiter.id}/reactivate", csrf
    )
    assert reactivated.status_code == 303
    assert len(await audit_rows(world, "user.reactivated")) == 1
    # Active again, yet the old session stays ended and the old token stays revoked.
    admin_cookie = console.cookies["candor_session"]
    console.cookies.clear()
    console.cookies.set("candor_session", recruiter_cookie)
    assert (await console.get("/console/inbox")).status_code == 303
    again = await api.get("/api/v1/outreach/messages", headers=hr(world.recruiter_token))
    assert again.status_code == 401
    console.cookies.clear()
    assert (await login(console, world.recruiter.email, PASSWORD)).status_code == 303
    console.cookies.set("candor_session", admin_cookie)
    assert (await console.get("/console/admin/users")).status_code == 200


async def test_the_last_active_admin_can_neither_leave_nor_step_down(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, csrf = await as_admin(console, world)
    audit_before = await count(world, AuditEntry)

    leave = await post_form(console, f"/console/admin/users/{admin.id}/deactivate", csrf)
    step_down = await post_form(
        console, f"/console/admin/users/{admin.id}", csrf, display_name="A", role="recruiter"
    )

    assert leave.status_code == step_down.status_code == 422
    assert "last active admin" in problem(leave.text, "active")
    assert "last active admin" in problem(step_down.text, "role")
    user = await get_user(world, admin.id)
    assert user.is_active
    assert user.role is Role.ADMIN
    assert await count(world, AuditEntry) == audit_before

    # With a second admin, the first may step down (and then sees no admin pages).
    await world.member(Role.ADMIN)
    stepped = await post_form(
        console, f"/console/admin/users/{admin.id}", csrf, display_name="A", role="recruiter"
    )
    assert stepped.status_code == 303
    assert (await console.get(stepped.headers["location"])).status_code == 403


async def test_an_admin_sets_a_new_password_which_ends_the_users_sessions(
    console: httpx.AsyncClient, world: World
) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)
    recruiter_cookie = console.cookies["candor_session"]
    console.cookies.clear()
    _, csrf = await as_admin(console, world)
    path = f"/console/admin/users/{world.recruiter.id}/password"

    weak = await post_form(console, path, csrf, password="password")
    assert weak.status_code == 422
    assert "at least 12 characters" in problem(weak.text, "password")
    assert await audit_rows(world, "user.password_reset") == []

    answer = await post_form(console, path, csrf, password=NEW_PASSWORD)

    assert answer.status_code == 303
    [entry] = await audit_rows(world, "user.password_reset")
    assert entry.details == {"sessions_ended": 1}
    assert NEW_PASSWORD not in str(entry.before) + str(entry.after)
    console.cookies.clear()
    console.cookies.set("candor_session", recruiter_cookie)
    assert (await console.get("/console/inbox")).status_code == 303
    assert (await login(console, world.recruiter.email, PASSWORD)).status_code == 401
    assert (await login(console, world.recruiter.email, NEW_PASSWORD)).status_code == 303


async def test_an_admin_setting_their_own_password_stays_logged_in_here_only(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, _ = await world.member(Role.ADMIN)
    await logged_in(console, world.runtime, admin.id)
    other_device = console.cookies["candor_session"]
    console.cookies.clear()
    csrf = await logged_in(console, world.runtime, admin.id)

    answer = await post_form(
        console, f"/console/admin/users/{admin.id}/password", csrf, password=NEW_PASSWORD
    )

    assert answer.status_code == 303
    assert (await console.get(answer.headers["location"])).status_code == 200
    console.cookies.clear()
    console.cookies.set("candor_session", other_device)
    assert (await console.get("/console/inbox")).status_code == 303


async def test_an_admin_clears_an_accounts_login_delays(
    console: httpx.AsyncClient, world: World
) -> None:
    email = await set_password(world.runtime, world.recruiter.id)
    await lock_out(world, email)
    assert (await login(console, email)).status_code == 429
    _, csrf = await as_admin(console, world)
    page = await console.get(f"/console/admin/users/{world.recruiter.id}")
    assert "Clear the login delays" in page.text

    answer = await post_form(console, f"/console/admin/users/{world.recruiter.id}/unlock", csrf)

    assert answer.status_code == 303
    [entry] = await audit_rows(world, "user.lockout_cleared")
    assert entry.after == {"delayed_for_seconds": None}
    again = await post_form(console, f"/console/admin/users/{world.recruiter.id}/unlock", csrf)
    assert again.status_code == 422
    assert "not delayed" in problem(again.text, "lockout")
    console.cookies.clear()
    assert (await login(console, email)).status_code == 303


async def test_an_unknown_user_is_a_404(console: httpx.AsyncClient, world: World) -> None:
    _, csrf = await as_admin(console, world)
    assert (await console.get("/console/admin/users/999999")).status_code == 404
    answer = await post_form(console, "/console/admin/users/999999/deactivate", csrf)
    assert answer.status_code == 404


# --- API tokens ------------------------------------------------------------------------


async def test_a_new_token_is_shown_once_works_and_stops_working_when_revoked(
    console: httpx.AsyncClient, api: httpx.AsyncClient, world: World
) -> None:
    admin, csrf = await as_admin(console, world)

    created = await post_form(
        console, "/console/admin/tokens", csrf, name=" moka-ats ", scopes=["ats:write"]
    )

    assert created.status_code == 201
    found = _TOKEN.search(created.text)
    assert found is not None
    plaintext = found.group(1)
    assert "shown only this once" in created.text
    listing = await console.get("/console/admin/tokens")
    assert plaintext not in listing.text
    row = re.search(r'<tr id="token-\d+"[^>]*>\s*<td>moka-ats</td>.*?</tr>', listing.text, re.S)
    assert row is not None
    assert f"user:{admin.id}" in row.group(0)  # who created it, from the audit trail
    async with world.runtime.sessionmaker() as session:
        token = await session.scalar(select(ApiToken).where(ApiToken.name == "moka-ats"))
    assert token is not None
    assert plaintext not in token.token_hash
    [entry] = await audit_rows(world, "api_token.created")
    assert entry.actor == f"user:{admin.id}"
    assert entry.after == {
        "name": "moka-ats",
        "scopes": ["ats:write"],
        "hr_user_id": None,
        "revoked_at": None,
    }
    auth = {"Authorization": f"Bearer {plaintext}"}
    first = await api.post(
        "/api/v1/ats/events", json=application_created(event_id="e-1"), headers=auth
    )
    assert first.status_code == 200, first.text

    revoked = await post_form(console, f"/console/admin/tokens/{token.id}/revoke", csrf)

    assert revoked.status_code == 303
    second = await api.post(
        "/api/v1/ats/events",
        json=application_created(event_id="e-2", application="a-2", candidate="c-2"),
        headers=auth,
    )
    assert second.status_code == 401
    [entry] = await audit_rows(world, "api_token.revoked")
    assert entry.before is not None
    assert entry.after is not None
    assert entry.before["revoked_at"] is None
    assert entry.after["revoked_at"] is not None
    twice = await post_form(console, f"/console/admin/tokens/{token.id}/revoke", csrf)
    assert twice.status_code == 409
    assert "already revoked" in problem(twice.text, "revoke")
    assert len(await audit_rows(world, "api_token.revoked")) == 1


async def test_an_hr_token_acts_as_the_chosen_user(
    console: httpx.AsyncClient, api: httpx.AsyncClient, world: World
) -> None:
    _, csrf = await as_admin(console, world)

    created = await post_form(
        console,
        "/console/admin/tokens",
        csrf,
        name="wang-laptop",
        scopes=["hr"],
        hr_user_id=str(world.recruiter.id),
    )

    assert created.status_code == 201
    found = _TOKEN.search(created.text)
    assert found is not None
    mine = await api.get("/api/v1/outreach/messages", headers=hr(found.group(1)))
    assert mine.status_code == 200
    audit = await api.get("/api/v1/audit", headers=hr(found.group(1)))
    assert audit.status_code == 403  # the recruiter's rights, not the admin's


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"scopes": ["root"]}, "scopes", "unknown scopes: root"),
        ({"scopes": []}, "scopes", "choose at least one scope"),
        ({"name": "  "}, "name", "name the token"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"scopes": ["hr"]}, "hr_user_id", "give exactly one HR user"),
        ({"hr_user_id": "RECRUITER"}, "hr_user_id", "only a token with the hr scope"),
        ({"scopes": ["hr"], "hr_user_id": "999999"}, "hr_user_id", "give exactly one HR user"),
        ({"scopes": ["hr"], "hr_user_id": "x"}, "hr_user_id", "not an id"),
    ],
    ids=[
        "unknown-scope",
        "no-scope",
        "empty-name",
        "long-name",
        "hr-without-user",
        "user-without-hr",
        "hr-unknown-user",
        "hr-user-not-an-id",
    ],
)
async def test_invalid_tokens_are_refused_inline_and_nothing_is_written(
    console: httpx.AsyncClient, world: World, fields: dict[str, Any], field: str, text: str
) -> None:
    _, csrf = await as_admin(console, world)
    if fields.get("hr_user_id") == "RECRUITER":
        fields = {**fields, "hr_user_id": str(world.recruiter.id)}
    tokens_before = await count(world, ApiToken)
    audit_before = await count(world, AuditEntry)

    answer = await post_form(
        console,
        "/console/admin/tokens",
        csrf,
        **{"name": "moka-ats", "scopes": ["ats:write"], **fields},
    )

    assert answer.status_code == 422
    assert text in problem(answer.text, field)
    assert "cnd_" not in answer.text
    assert await count(world, ApiToken) == tokens_before
    assert await count(world, AuditEntry) == audit_before


async def test_a_deactivated_user_cannot_be_given_an_hr_token(
    console: httpx.AsyncClient, world: World
) -> None:
    _, csrf = await as_admin(console, world)
    async with world.runtime.transaction() as session:
        (await session.get_one(HRUser, world.outsider.id)).is_active = False

    answer = await post_form(
        console,
        "/console/admin/tokens",
        csrf,
        name="old",
        scopes=["hr"],
        hr_user_id=str(world.outsider.id),
    )

    assert answer.status_code == 422
    assert "deactivated" in problem(answer.text, "hr_user_id")


# --- teams -----------------------------------------------------------------------------


async def test_an_admin_creates_and_renames_a_team(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, csrf = await as_admin(console, world)

    created = await post_form(
        console, "/console/admin/teams", csrf, external_id="team-c", name="市场部"
    )
    duplicate = await post_form(
        console, "/console/admin/teams", csrf, external_id="team-a", name="重复"
    )
    nameless = await post_form(console, "/console/admin/teams", csrf, external_id="t-d", name="")

    assert created.status_code == 303
    assert duplicate.status_code == nameless.status_code == 422
    assert "exists" in problem(duplicate.text, "external_id")
    assert "enter a name" in problem(nameless.text, "name")
    async with world.runtime.sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.external_id == "team-c"))
    assert team is not None
    assert await count(world, Team) == 3

    renamed = await post_form(console, f"/console/admin/teams/{team.id}", csrf, name="市场与品牌部")
    blank = await post_form(console, f"/console/admin/teams/{team.id}", csrf, name=" ")

    assert renamed.status_code == 303
    assert blank.status_code == 422
    assert "enter a name" in problem(blank.text, f"rename-{team.id}")
    page = await console.get("/console/admin/teams")
    assert "市场与品牌部" in page.text
    [made] = await audit_rows(world, "team.created")
    [moved] = await audit_rows(world, "team.renamed")
    assert made.actor == moved.actor == f"user:{admin.id}"
    assert made.after == {"external_id": "team-c", "name": "市场部"}
    assert moved.before == {"external_id": "team-c", "name": "市场部"}
    assert moved.after == {"external_id": "team-c", "name": "市场与品牌部"}
    assert moved.team_id == team.id
    # A new team can be chosen for users at once.
    users = await console.get("/console/admin/users")
    assert f'name="team_ids" value="{team.id}"' in users.text
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(TeamMembership)) == 2
