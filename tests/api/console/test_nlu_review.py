"""The console's NLU review: the misunderstood messages of the user's teams, verdicts on
them, and the models page where admins train a candidate and the gate refuses one that
does worse on a blind set. Blind sets are the small ones of tests/candor/nlu_review."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from candor.audit.service import Action
from candor.models import AuditEntry, MisreadMessage, NluModelVersion
from candor.models.enums import Role
from candor.models.nlu_review import NluModelState, ReviewState
from candor.nlu_review.service import Verdict
from candor.settings import Settings
from tests.candor.nlu_review.world import (
    FRAGILE_LOOKALIKES,
    UNSURE_MEANT,
    UNSURE_TEXT,
    WRONG_INTENT,
    conversation,
    decide,
    gated_dir,
    queue,
)
from tests.console_world import logged_in, post_form
from tests.dialogue_world import nlu_model
from tests.outreach_world import World

__all__ = ["gated_dir", "nlu_model"]


@pytest.fixture
def settings(settings: Settings, gated_dir: Path) -> Settings:
    """The app's settings, with the small blind sets."""
    return settings.model_copy(update={"nlu_eval_dir": gated_dir})


async def item(world: World, item_id: int) -> MisreadMessage:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(MisreadMessage, item_id)


async def audit_count(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_reviewers_see_their_teams_messages_masked(
    console: httpx.AsyncClient, world: World
) -> None:
    said = "我是李雷，电话13812345678，那个咋说"
    ours = await queue(world, await conversation(world, 1), said, reason="fallback")
    theirs = await queue(world, await conversation(world, 2, team="team-b"), "另一个组的消息")
    await logged_in(console, world.runtime, world.recruiter.id)

    answer = await console.get("/console/nlu-review")
    assert answer.status_code == 200
    assert '<a href="/console/nlu-review" aria-current="page">NLU review</a>' in answer.text
    assert f'id="item-{ours}"' in answer.text
    assert f'id="item-{theirs}"' not in answer.text
    assert "我是某某，电话13000000000，那个咋说" in answer.text
    assert "李雷" not in answer.text
    assert "13812345678" not in answer.text
    assert "NLU unsure" in answer.text
    # The intents to choose from are domain.yml's, the likeliest real one preselected.
    assert '<option value="human_handoff" selected>' in answer.text
    assert '<option value="nlu_fallback"' not in answer.text
    assert "/console/nlu-review/models" not in answer.text  # admins only

    for query, problem in (("state=wrong", "state: one of"), ("reason=x", "reason: one of")):
        refused = await console.get(f"/console/nlu-review?{query}")
        assert refused.status_code == 422
        assert problem in refused.text
    assert (await console.get("/console/nlu-review/models")).status_code == 403


async def test_verdicts_from_the_form_with_every_refusal_explained(
    console: httpx.AsyncClient, world: World
) -> None:
    conversation_id = await conversation(world, 1)
    first = await queue(world, conversation_id, UNSURE_TEXT)
    second = await queue(world, conversation_id, "能把我的简历删了吗")
    theirs = await queue(world, await conversation(world, 2, team="team-b"), "别组的")
    blind = await queue(world, conversation_id, "哈喽哈喽 在不在！")  # fragile.jsonl's text
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    done = await post_form(
        console, "/console/nlu-review/decide", csrf,
        item_id=str(first), verdict="approve", intent=UNSURE_MEANT,
    )  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/nlu-review?done=approve:{first}#queue"
    flash = await console.get(done.headers["location"])
    assert f"Message {first}: intent assigned" in flash.text
    assert (await item(world, first)).intent == UNSURE_MEANT

    audited = await audit_count(world)
    refusals = [
        ({"item_id": "abc", "verdict": "dismiss"}, 422, "item_id: give the number"),
        ({"item_id": "²", "verdict": "dismiss"}, 422, "item_id: give the number"),
        ({"item_id": str(second), "verdict": "maybe"}, 422, "verdict: one of"),
        ({"item_id": str(second), "verdict": "approve", "intent": "made_up"}, 422, "made_up"),
        ({"item_id": str(second), "verdict": "approve"}, 422, "choose the intent"),
        ({"item_id": str(second), "verdict": "dismiss", "note": "x" * 501}, 422, "at most 500"),
        ({"item_id": str(blind), "verdict": "approve", "intent": "greet"}, 422, "fragile.jsonl"),
        ({"item_id": str(first), "verdict": "dismiss"}, 409, "reviewed already"),
        ({"item_id": str(theirs), "verdict": "dismiss"}, 404, "not in your teams"),
        ({"item_id": "999999", "verdict": "dismiss"}, 404, "not in your teams"),
    ]
    for fields, status, problem in refusals:
        answer = await console.post(
            "/console/nlu-review/decide", data={"csrf_token": csrf, **fields}
        )
        assert answer.status_code == status, (fields, answer.status_code)
        assert problem in answer.text, (fields, answer.text)
    assert await audit_count(world) == audited
    assert (await item(world, second)).state is ReviewState.PENDING
    assert (await item(world, theirs)).state is ReviewState.PENDING

    new_intent = await post_form(
        console, "/console/nlu-review/decide", csrf,
        item_id=str(second), verdict="new_intent", note="delete_my_data",
    )  # fmt: skip
    assert new_intent.status_code == 303
    assert (await item(world, second)).note == "delete_my_data"
    page = await console.get("/console/nlu-review?state=new_intent")
    assert "“delete_my_data”" in page.text

    reopened = await post_form(console, "/console/nlu-review/reopen", csrf, item_id=str(second))
    assert reopened.status_code == 303
    assert "state=new_intent" in reopened.headers["location"]
    assert (await item(world, second)).state is ReviewState.PENDING
    again = await post_form(console, "/console/nlu-review/reopen", csrf, item_id=str(second))
    assert again.status_code == 409
    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor == f"user:{world.recruiter.id}")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert list(actions) == [
        Action.NLU_REVIEW_INTENT_ASSIGNED,
        Action.NLU_REVIEW_NEW_INTENT,
        Action.NLU_REVIEW_REOPENED,
    ]


async def test_admins_train_and_the_gate_refuses_a_regression(
    console: httpx.AsyncClient, world: World, gated_dir: Path
) -> None:
    admin, _ = await world.member(Role.ADMIN)
    csrf = await logged_in(console, world.runtime, admin.id)
    page = await console.get("/console/nlu-review/models")
    assert page.status_code == 200
    assert "The project's own model" in page.text
    nothing = await post_form(console, "/console/nlu-review/models/train", csrf)
    assert nothing.status_code == 422
    assert "no approved examples" in nothing.text

    conversation_id = await conversation(world, 1)
    for text in FRAGILE_LOOKALIKES:
        wrong = await queue(world, conversation_id, text)
        await decide(world, wrong, Verdict.APPROVE, intent=WRONG_INTENT, blind_dir=gated_dir)
    trained = await post_form(console, "/console/nlu-review/models/train", csrf)
    assert trained.status_code == 303
    model_id = int(re.sub(r"\D", "", trained.headers["location"]))
    shown = await console.get(trained.headers["location"])
    assert f"Model {model_id} trained" in shown.text
    assert f"Candidate #{model_id}" in shown.text
    assert '<tr class="worse">' in shown.text
    assert "Accepting is refused" in shown.text

    refused = await post_form(
        console, "/console/nlu-review/models/accept", csrf, model_id=str(model_id)
    )
    assert refused.status_code == 409
    assert re.search(r'role="alert">model \d+ is refused: .*fragile\.jsonl', refused.text)
    for fields, status in (({"model_id": "x"}, 422), ({"model_id": "424242"}, 404)):
        answer = await console.post(
            "/console/nlu-review/models/accept", data={"csrf_token": csrf, **fields}
        )
        assert answer.status_code == status
    reverted = await post_form(console, "/console/nlu-review/models/revert", csrf)
    assert reverted.status_code == 409
    assert "in use already" in reverted.text

    discarded = await post_form(
        console, "/console/nlu-review/models/discard", csrf, model_id=str(model_id)
    )
    assert discarded.status_code == 303
    async with world.runtime.sessionmaker() as session:
        assert (await session.get_one(NluModelVersion, model_id)).state is (NluModelState.DISCARDED)
    history = await console.get("/console/nlu-review/models")
    assert "No candidate waits" in history.text
    assert 'id="history"' in history.text
