"""`GET /api/v1/kpis` with an HR token: the same figures and filters as the dashboard."""

from __future__ import annotations

import httpx

from candor.models import Job
from candor.models.enums import Role
from tests.candor.kpis.history import write_history
from tests.outreach_world import World, hr

URL = "/api/v1/kpis"
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


async def test_the_figures_of_my_teams(api: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")
    await world.applicant(2, team="team-b")

    answer = await api.get(
        URL, params={**RANGE, "compare_teams": "true"}, headers=hr(world.recruiter_token)
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["figures"]["interviews_completed"] == 1
    assert body["figures"]["notified_late_or_missed"] == 1
    assert body["figures"]["timeliness_rate"] == 0.0
    assert body["figures"]["breaches_open"] == 1
    assert body["figures"]["funnel"]["applied"] == 1
    assert [t["team_id"] for t in body["teams"]] == [world.team.id]
    assert body["filters"]["start"] == "2026-03-01"


async def test_records_behind_a_figure(api: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")

    answer = await api.get(
        f"{URL}/records",
        params={**RANGE, "metric": "interviews", "timeliness": "late"},
        headers=hr(world.recruiter_token),
    )

    assert answer.status_code == 200
    assert answer.json()["rows"][0][0] == "AP-2026-000001"
    assert answer.json()["message_ids"][0] is not None


async def test_records_come_in_pages(api: httpx.AsyncClient, world: World) -> None:
    for n in (1, 2, 3):
        await world.applicant(n)
    query = {**RANGE, "metric": "interviews"}
    token = hr(world.recruiter_token)

    first = (await api.get(f"{URL}/records", params={**query, "limit": 2}, headers=token)).json()
    rest = await api.get(f"{URL}/records", params={**query, "offset": 2, "limit": 2}, headers=token)
    past = await api.get(f"{URL}/records", params={**query, "offset": 9}, headers=token)
    too_many = await api.get(f"{URL}/records", params={**query, "limit": 1001}, headers=token)

    assert (first["total"], first["offset"], first["limit"], len(first["rows"])) == (3, 0, 2, 2)
    assert len(rest.json()["rows"]) == len(rest.json()["message_ids"]) == 1
    codes = sorted(row[0] for row in first["rows"] + rest.json()["rows"])
    assert codes == ["AP-2026-000001", "AP-2026-000002", "AP-2026-000003"]
    assert past.json()["rows"] == []
    assert past.json()["total"] == 3
    assert too_many.status_code == 422


async def test_bad_filters_are_4xx(api: httpx.AsyncClient, world: World) -> None:
    token = hr(world.recruiter_token)
    async with world.runtime.transaction() as session:
        theirs = Job(
            external_id="job-b",
            team_id=world.other_team.id,
            title="销售",
            recruiter_id=world.outsider.id,
        )
        session.add(theirs)
        await session.flush()
        their_job = theirs.id
    inverted = await api.get(URL, params={"from": "2026-03-05", "to": "2026-03-01"}, headers=token)
    garbage = await api.get(URL, params={"from": "yesterday"}, headers=token)
    foreign = await api.get(URL, params={"team_id": world.other_team.id}, headers=token)
    their_recruiter = await api.get(URL, params={"recruiter_id": world.outsider.id}, headers=token)
    their_job_records = await api.get(
        f"{URL}/records", params={"metric": "interviews", "job_id": their_job}, headers=token
    )
    metric = await api.get(f"{URL}/records", params={"metric": "nope"}, headers=token)
    week = await api.get(
        f"{URL}/records", params={"metric": "interviews", "week": "x"}, headers=token
    )
    anonymous = await api.get(URL)

    assert inverted.status_code == 422
    assert garbage.status_code == 422
    assert foreign.status_code == 404
    # Another team's recruiter or job: refused like its team, never an empty or wider report.
    assert their_recruiter.status_code == 404
    assert their_recruiter.json()["error"]["message"] == f"no recruiter {world.outsider.id}"
    assert their_job_records.status_code == 404
    assert metric.status_code == 422
    assert week.status_code == 422
    assert anonymous.status_code == 401


async def test_the_conversation_figures_and_their_records(
    api: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        history = await write_history(session)
    _, token = await world.member(Role.ADMIN)
    scope: dict[str, str | int] = {
        "from": "2026-03-01",
        "to": "2026-03-20",
        "team_id": history.team_b.id,
    }

    answer = await api.get(URL, params=scope, headers=hr(token))
    replies = await api.get(
        f"{URL}/records", params={**scope, "metric": "replies"}, headers=hr(token)
    )

    assert answer.status_code == 200
    figures = answer.json()["figures"]
    # Team B (history.py): #4's result, replied to; C4, escalated; CSAT 4 on an advance.
    assert (figures["results_sent"], figures["results_replied"]) == (1, 1)
    assert (figures["conversations_started"], figures["containment_rate"]) == (1, 0.0)
    assert figures["handoffs"] == 0
    assert figures["hr_first_response_median_hours"] is None
    assert figures["csat"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    advance = next(c for c in figures["csat_by_outcome"] if c["key"] == "advance")
    assert (advance["asked"], advance["rated"], advance["mean"]) == (1, 1, 4.0)
    assert replies.json()["rows"] == [
        [
            replies.json()["rows"][0][0],
            history.codes[4],
            "候选人4",
            "advance",
            "2026-03-09 12:01",
            "yes",
        ]
    ]
