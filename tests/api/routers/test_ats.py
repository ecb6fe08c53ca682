from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from candor.models import Application, AtsEvent, Candidate, StageChange
from candor.runtime import Runtime
from tests.factories import application_created, make_ats_token, make_team


@pytest.fixture
async def token(runtime: Runtime) -> str:
    async with runtime.transaction() as session:
        await make_team(session, external_id="team-a")
        return await make_ats_token(session)


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_application_created_gets_a_code_and_a_replay_returns_the_first_answer(
    client: httpx.AsyncClient, runtime: Runtime, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    event = application_created(event_id="evt-1")

    first = await client.post("/api/v1/ats/events", json=event, headers=headers)
    replay = await client.post("/api/v1/ats/events", json=event, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["application_code"] == "AP-2026-000001"
    assert first.json()["stage"] == "applied"
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await count(runtime, Application) == 1
    assert await count(runtime, StageChange) == 1
    assert await count(runtime, AtsEvent) == 1
