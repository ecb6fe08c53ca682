"""Personal data in the console (deletion requests are in test_privacy.py): HR's export of
a candidate, scoped to the teams they see and audited; reads of a candidate audited once per
window (console and API); and the admins' "who viewed whom" page."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from api.app import create_app
from candor.audit.service import Action
from candor.models import Application, AuditEntry, Candidate
from candor.models.enums import Channel, Role
from tests.api.routers.test_privacy import second_application
from tests.console_world import console, logged_in, post_form
from tests.factories import make_team
from tests.outreach_world import World, api, hr

__all__ = ["api", "console"]


async def candidate_id(world: World, n: int) -> int:
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(Candidate.id).where(Candidate.external_id == f"cand-{n}")
        )
        assert found is not None
        return int(found)


async def rows(world: World, action: str) -> list[AuditEntry]:
    async with world.runtime.sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


@pytest.fixture
async def unthrottled(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The console with CANDOR_ACCESS_AUDIT_WINDOW_MINUTES=0: every read audited."""
    settings = world.runtime.settings.model_copy(update={"access_audit_window_minutes": 0})
    app = create_app(runtime=dataclasses.replace(world.runtime, settings=settings))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="https://candor.test",
            headers={"Accept-Language": "en"},
        ) as http,
    ):
        yield http


async def test_hr_exports_only_what_their_teams_see_and_it_is_audited(
    world: World, console: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WEB])  # team-a, their latest application
    await second_application(world)  # the same candidate in team-b, earlier
    cid = await candidate_id(world, 1)
    a_code = (await world.application(1)).code
    async with world.runtime.sessionmaker() as session:
        b_code = await session.scalar(
            select(Application.code).where(Application.external_id == "app-1b")
        )
    assert b_code is not None

    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    page = await console.get(f"/console/candidates/{cid}")
    assert f'action="/console/candidates/{cid}/export"' in page.text
    answer = await post_form(console, f"/console/candidates/{cid}/export", csrf)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment;")
    copy = answer.json()
    assert copy["scope"] == "your_teams"
    assert [a["code"] for a in copy["applications"]] == [a_code]  # not team-b's
    assert b_code not in answer.text
    assert copy["profile"]["name"] == "李雷"

    # team-b's recruiter does not see the candidate (no conversation of theirs, not their
    # latest application): a 404, nothing exported. An admin gets the complete copy.
    other_csrf = await logged_in(console, world.runtime, world.outsider.id)
    refused = await post_form(console, f"/console/candidates/{cid}/export", other_csrf)
    assert refused.status_code == 404
    assert "李雷" not in refused.text
    admin, _ = await world.member(Role.ADMIN)
    admin_csrf = await logged_in(console, world.runtime, admin.id)
    complete = (await post_form(console, f"/console/candidates/{cid}/export", admin_csrf)).json()
    assert complete["scope"] == "complete"
    assert sorted(a["code"] for a in complete["applications"]) == sorted([a_code, b_code])

    [mine, admins] = await rows(world, Action.CANDIDATE_EXPORTED)
    assert (mine.actor, mine.object_id, mine.team_id) == (
        f"user:{world.recruiter.id}",
        str(cid),
        world.team.id,  # the candidate's latest application's team
    )
    assert mine.details["scope"] == "your_teams"
    assert mine.details["applications"] == 1
    assert (admins.actor, admins.details["scope"]) == (f"user:{admin.id}", "complete")


async def test_an_export_needs_the_form_and_a_team_that_sees_the_candidate(
    world: World, console: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    async with world.runtime.transaction() as session:
        stranger_team = await make_team(session, external_id="team-c")
    stranger, _ = await world.member(Role.RECRUITER, stranger_team)
    csrf = await logged_in(console, world.runtime, stranger.id)

    assert (await post_form(console, f"/console/candidates/{cid}/export", csrf)).status_code == 404
    assert (await post_form(console, "/console/candidates/999999/export", csrf)).status_code == 404
    no_csrf = await console.post(f"/console/candidates/{cid}/export", data={})
    assert no_csrf.status_code == 403
    assert await rows(world, Action.CANDIDATE_EXPORTED) == []


async def test_reads_of_a_candidate_are_audited_once_per_window(
    world: World, console: httpx.AsyncClient, unthrottled: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    await logged_in(console, world.runtime, world.recruiter.id)
    for _ in range(3):
        assert (await console.get(f"/console/candidates/{cid}")).status_code == 200
    [read] = await rows(world, Action.TRANSCRIPT_READ)
    assert (read.actor, read.object_type, read.object_id) == (
        f"user:{world.recruiter.id}",
        "candidate",
        str(cid),
    )

    # Another reader is their own row; with no window every read is one.
    await logged_in(unthrottled, world.runtime, world.outsider.id)  # no team sees: 404s
    admin, admin_token = await world.member(Role.ADMIN)
    await logged_in(unthrottled, world.runtime, admin.id)
    for _ in range(2):
        assert (await unthrottled.get(f"/console/candidates/{cid}")).status_code == 200
    assert [r.actor for r in await rows(world, Action.TRANSCRIPT_READ)] == [
        f"user:{world.recruiter.id}",
        f"user:{admin.id}",
        f"user:{admin.id}",
    ]

    # Looking the candidate up over the API is audited too, once per window.
    for _ in range(2):
        found = await api.get(
            "/api/v1/conversations", params={"candidate_id": cid}, headers=hr(admin_token)
        )
        assert found.status_code == 200
    [viewed] = await rows(world, Action.CANDIDATE_VIEWED)
    assert (viewed.actor, viewed.object_id, viewed.details) == (
        f"user:{admin.id}",
        str(cid),
        {"what": "conversations", "via": "api"},
    )


async def test_admins_see_who_viewed_whom(world: World, console: httpx.AsyncClient) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    await world.applicant(2, bind=[Channel.WEB], name="韩梅梅")
    first, second = await candidate_id(world, 1), await candidate_id(world, 2)
    await logged_in(console, world.runtime, world.recruiter.id)
    await console.get(f"/console/candidates/{first}")
    await console.get(f"/console/candidates/{second}")
    assert (await console.get("/console/audit/access")).status_code == 403  # admins only

    admin, _ = await world.member(Role.ADMIN)
    await logged_in(console, world.runtime, admin.id)
    page = await console.get("/console/audit/access")
    assert page.status_code == 200
    assert "Who viewed whom" in page.text
    table = page.text.split('id="access-log"')[1]
    assert table.count('data-action="transcript.read"') == 2
    assert f'data-actor="user:{world.recruiter.id}"' in table
    assert "李雷" in table
    assert "韩梅梅" in table
    assert "read the transcript" in table
    assert "王招聘" in table  # the reader's name

    only_second = await console.get("/console/audit/access", params={"candidate_id": second})
    table = only_second.text.split('id="access-log"')[1]
    assert "韩梅梅" in table
    assert "李雷" not in table
    by_reader = await console.get("/console/audit/access", params={"reader": f"user:{admin.id}"})
    assert "No reads of personal data match." in by_reader.text
    assert (await console.get("/console/audit/access", params={"from": "nope"})).status_code == 422
    audit = await console.get("/console/audit")
    assert 'href="/console/audit/access"' in audit.text
