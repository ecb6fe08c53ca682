"""The one way an ATS event enters the domain, as the API, the demo and the chat call it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from candor.ats.errors import EventConflictError
from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.models import Application, AtsEvent, OutreachMessage
from candor.outreach.context import ResultDrafter
from candor.outreach.errors import NoTemplateError
from candor.outreach.templates import load_default_templates
from candor.runtime import Runtime
from tests.factories import application_created, make_team

RESULT: dict[str, Any] = {
    "event_id": "evt-result",
    "type": "result_decided",
    "data": {
        "application_external_id": "ext-app-1",
        "decision": "advance",
        "decided_at": "2026-03-04T10:00:00+08:00",
    },
}


@pytest.fixture
async def applied(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await make_team(session, external_id="team-a")
        await accept_event(session, ATS_EVENT.validate_python(application_created(event_id="e1")))


async def accept(
    runtime: Runtime, raw: dict[str, Any], *, drafting: bool = True
) -> tuple[int, dict[str, Any], bool]:
    async with runtime.transaction() as session:
        outcome = await accept_event(
            session,
            ATS_EVENT.validate_python(raw),
            on_result_decided=ResultDrafter(runtime.settings) if drafting else None,
        )
        return outcome.status_code, outcome.body, outcome.replayed


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def load_templates(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await load_default_templates(session)


@pytest.mark.usefixtures("applied")
async def test_a_decided_result_is_drafted_once_and_a_replay_gives_the_first_answer(
    runtime: Runtime,
) -> None:
    await load_templates(runtime)

    status, body, replayed = await accept(runtime, RESULT)
    again = await accept(runtime, RESULT)

    assert (status, replayed) == (200, False)
    assert body["result_version"] == 1
    assert again == (200, body, True)
    assert await count(runtime, OutreachMessage) == 1


@pytest.mark.usefixtures("applied")
async def test_without_a_listener_a_decided_result_drafts_nothing(runtime: Runtime) -> None:
    await load_templates(runtime)

    status, body, _ = await accept(runtime, RESULT, drafting=False)

    assert status == 200
    assert body["result_version"] == 1
    assert await count(runtime, OutreachMessage) == 0


@pytest.mark.usefixtures("applied")
async def test_a_listener_that_refuses_rejects_the_event_and_the_same_id_can_come_again(
    runtime: Runtime,
) -> None:
    with pytest.raises(NoTemplateError):  # no templates loaded yet
        await accept(runtime, RESULT)

    assert await count(runtime, AtsEvent) == 1  # the application_created only
    async with runtime.sessionmaker() as session:
        application = await session.scalar(select(Application))
        assert application is not None
        assert application.result_version == 0

    await load_templates(runtime)
    status, _, replayed = await accept(runtime, RESULT)
    assert (status, replayed) == (200, False)
    assert await count(runtime, OutreachMessage) == 1


@pytest.mark.usefixtures("applied")
async def test_the_same_event_id_with_another_body_is_a_conflict(runtime: Runtime) -> None:
    await load_templates(runtime)
    await accept(runtime, RESULT)
    changed = {**RESULT, "data": {**RESULT["data"], "decision": "reject"}}

    with pytest.raises(EventConflictError):
        await accept(runtime, changed)

    assert await count(runtime, OutreachMessage) == 1
