from __future__ import annotations

import httpx
from sqlalchemy import select

from candor.models.enums import Role
from candor.models.outreach import MessageState, OutreachMessage
from tests.outreach_world import World, hr

URL = "/api/v1/approval-rules"


async def admin_token(world: World) -> str:
    _, token = await world.member(Role.ADMIN)
    return token


async def latest_state(world: World) -> MessageState:
    async with world.runtime.sessionmaker() as session:
        state = await session.scalar(
            select(OutreachMessage.state).order_by(OutreachMessage.id.desc()).limit(1)
        )
    assert state is not None
    return state


async def test_put_creates_then_updates_the_rule_at_one_scope(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = hr(await admin_token(world))

    created = await api.put(URL, json={"outcome": "reject", "mode": "auto"}, headers=headers)
    updated = await api.put(
        URL, json={"outcome": "reject", "mode": "require_approval"}, headers=headers
    )
    team_rule = await api.put(
        URL,
        json={"outcome": "reject", "team_id": world.team.id, "mode": "auto"},
        headers=headers,
    )
    listed = await api.get(URL, headers=headers)

    assert created.status_code == 200, created.text
    # Company-wide: team and job are NULL, which the unique constraint cannot compare.
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["mode"] == "require_approval"
    assert team_rule.json()["id"] != created.json()["id"]
    assert [(r["team_id"], r["mode"]) for r in listed.json()] == [
        (None, "require_approval"),
        (world.team.id, "auto"),
    ]


async def test_a_rule_decides_the_next_draft(api: httpx.AsyncClient, world: World) -> None:
    headers = hr(await admin_token(world))
    await world.applicant(1)
    await world.applicant(2)

    await api.put(
        URL, json={"outcome": "reject", "team_id": world.team.id, "mode": "auto"}, headers=headers
    )
    await world.decide(1, "reject")
    auto = await latest_state(world)
    rules = await api.get(URL, headers=headers)
    await api.delete(f"{URL}/{rules.json()[0]['id']}", headers=headers)
    await world.decide(2, "reject")
    default = await latest_state(world)

    assert auto is MessageState.QUEUED
    assert default is MessageState.PENDING_APPROVAL


async def test_a_job_rule_needs_a_real_job_in_the_named_team(
    api: httpx.AsyncClient, world: World
) -> None:
    headers = hr(await admin_token(world))
    await world.applicant(1, team="team-b")
    job_id = (await world.application(1)).job_id

    wrong_team = await api.put(
        URL,
        json={"outcome": "advance", "team_id": world.team.id, "job_id": job_id, "mode": "auto"},
        headers=headers,
    )
    no_job = await api.put(
        URL, json={"outcome": "advance", "job_id": 999999, "mode": "auto"}, headers=headers
    )
    no_team = await api.put(
        URL, json={"outcome": "advance", "team_id": 999999, "mode": "auto"}, headers=headers
    )
    job_only = await api.put(
        URL, json={"outcome": "advance", "job_id": job_id, "mode": "auto"}, headers=headers
    )

    assert [r.status_code for r in (wrong_team, no_job, no_team)] == [422, 422, 422]
    assert wrong_team.json()["error"]["code"] == "unknown_reference"
    assert job_only.status_code == 200
    assert (await api.get(URL, headers=headers)).json() == [job_only.json()]


async def test_deleting_an_unknown_rule_is_404(api: httpx.AsyncClient, world: World) -> None:
    response = await api.delete(f"{URL}/999999", headers=hr(await admin_token(world)))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_deleted_rule_is_gone(api: httpx.AsyncClient, world: World) -> None:
    headers = hr(await admin_token(world))
    rule = await api.put(URL, json={"outcome": "hold", "mode": "auto"}, headers=headers)

    deleted = await api.delete(f"{URL}/{rule.json()['id']}", headers=headers)
    again = await api.delete(f"{URL}/{rule.json()['id']}", headers=headers)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert (await api.get(URL, headers=headers)).json() == []


async def test_only_admins_see_or_change_rules(api: httpx.AsyncClient, world: World) -> None:
    admin = hr(await admin_token(world))
    rule = await api.put(URL, json={"outcome": "hold", "mode": "auto"}, headers=admin)
    _, lead_token = await world.member(Role.TEAM_LEAD, world.team)

    for token in (world.recruiter_token, lead_token):
        responses = [
            await api.get(URL, headers=hr(token)),
            await api.put(URL, json={"outcome": "hold", "mode": "auto"}, headers=hr(token)),
            await api.delete(f"{URL}/{rule.json()['id']}", headers=hr(token)),
        ]
        assert [r.status_code for r in responses] == [403, 403, 403]
    assert (await api.get(URL, headers=admin)).json() == [rule.json()]


async def test_a_bad_mode_is_422(api: httpx.AsyncClient, world: World) -> None:
    response = await api.put(
        URL, json={"outcome": "hold", "mode": "sometimes"}, headers=hr(await admin_token(world))
    )

    assert response.status_code == 422
