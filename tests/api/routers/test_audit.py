"""`GET /api/v1/audit`: the audit trail for admins, filterable."""

from __future__ import annotations

import httpx

from candor.models.enums import Role
from tests.outreach_world import World, hr

URL = "/api/v1/audit"


async def test_admins_read_and_filter_the_trail(api: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    listed = await api.get("/api/v1/outreach/messages", headers=hr(world.recruiter_token))
    message_id = listed.json()[0]["id"]
    await api.post(
        f"/api/v1/outreach/messages/{message_id}/reject",
        json={"reason": "岗位已招满"},
        headers=hr(world.recruiter_token, key="r-1"),
    )
    _, admin_token = await world.member(Role.ADMIN)

    everything = await api.get(URL, headers=hr(admin_token))
    rejections = await api.get(URL, params={"action": "message.rejected"}, headers=hr(admin_token))
    by_team = await api.get(URL, params={"team_id": world.other_team.id}, headers=hr(admin_token))
    naive = await api.get(URL, params={"since": "2026-03-01T00:00:00"}, headers=hr(admin_token))

    assert everything.status_code == 200
    [entry] = rejections.json()
    assert entry["actor"] == f"user:{world.recruiter.id}"
    assert entry["object_type"] == "message"
    assert entry["object_id"] == str(message_id)
    assert entry["before"]["state"] == "pending_approval"
    assert entry["after"]["state"] == "rejected"
    assert entry["details"] == {"reason": "岗位已招满"}
    assert by_team.json() == []
    assert naive.status_code == 422


async def test_only_admins(api: httpx.AsyncClient, world: World) -> None:
    answer = await api.get(URL, headers=hr(world.recruiter_token))
    assert answer.status_code == 403
