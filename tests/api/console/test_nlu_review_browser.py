"""The NLU review loop in a real browser, end to end: a candidate's message the bot is unsure
about is reviewed in the console, the admin trains a candidate model, the accept button
refuses one that loses a blind set (earlier careless verdicts), the verdicts are reopened,
the next candidate is accepted, and the candidate's next message is read by the new model
without a restart. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from candor.audit.service import Action
from candor.dialogue.state import recent_events
from candor.models import Application, AuditEntry, Conversation
from candor.models.enums import Role
from candor.nlu_review.service import Verdict
from candor.settings import Settings
from nlu.model import NluModel
from tests.api.console.test_browser import (  # the same server, browser and helpers
    ServerThread,
    browser,
    log_in,
    screenshot,
    server,
)
from tests.api.console.test_browser_conversations import web_link_token
from tests.candor.nlu_review.world import (
    FRAGILE_LOOKALIKES,
    UNSURE_MEANT,
    UNSURE_TEXT,
    WRONG_INTENT,
    decide,
    gated_dir,
    queue,
)
from tests.dialogue_world import nlu_model
from tests.outreach_world import World

__all__ = ["browser", "gated_dir", "nlu_model", "server"]


@pytest.fixture
def settings(settings: Settings, gated_dir: Path) -> Settings:
    """The served app's settings, with the small blind sets."""
    return settings.model_copy(update={"nlu_eval_dir": gated_dir})


async def candidates_conversation(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        application = await session.scalar(
            select(Application).where(Application.external_id == "app-1")
        )
        assert application is not None
        found = await session.scalar(
            select(Conversation.id).where(Conversation.candidate_id == application.candidate_id)
        )
    assert found is not None
    return int(found)


async def intents_read(world: World, conversation_id: int, count: int) -> list[str]:
    """The intents of the conversation's user turns, once there are `count` of them."""
    for _ in range(100):
        async with world.runtime.sessionmaker() as session:
            events = await recent_events(session, conversation_id)
        intents = [
            str(e["parse_data"]["intent"]["name"]) for e in events if e.get("event") == "user"
        ]
        if len(intents) >= count:
            return intents
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} turns in conversation {conversation_id}")


async def say(page: Page, text: str) -> None:
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")


async def test_review_retrain_refuse_a_regression_accept_and_answer_better(
    world: World,
    nlu_model: NluModel,  # loaded once per session; the served engine shares it
    server: ServerThread,
    browser: Browser,
    gated_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    await world.applicant(1)
    token = await web_link_token(world)
    candidate = await (await browser.new_context()).new_page()
    await candidate.goto(f"{server.url}/chat?bind={token}")
    await expect(candidate.locator("#log")).to_contain_text("AP-2026-000001")
    await say(candidate, UNSURE_TEXT)
    conversation_id = await candidates_conversation(world)
    assert (await intents_read(world, conversation_id, 1))[-1] == "nlu_fallback"

    # The engine queues what it misread; someone earlier approved three look-alikes of a
    # greeting as withdrawals, which the blind set fragile.jsonl will catch.
    unsure = await queue(world, conversation_id, UNSURE_TEXT)
    await queue(world, conversation_id, "我是李雷 手机13812345678 这个啥意思")
    careless = [await queue(world, conversation_id, text) for text in FRAGILE_LOOKALIKES]
    for item_id in careless:
        await decide(world, item_id, Verdict.APPROVE, intent=WRONG_INTENT, blind_dir=gated_dir)

    admin, _ = await world.member(Role.ADMIN)
    hr = await (await browser.new_context()).new_page()
    await log_in(hr, server, world, admin.id)
    await hr.get_by_role("link", name="NLU review").click()
    item = hr.locator(f"#item-{unsure}")
    await expect(item.locator("blockquote")).to_have_text(UNSURE_TEXT)
    await expect(hr.locator("#queue")).to_contain_text("我是某某 手机13000000000 这个啥意思")
    await expect(hr.locator("#queue")).not_to_contain_text("13812345678")
    await screenshot(hr, request, "queue")
    await item.get_by_label("Intent").select_option(UNSURE_MEANT)
    await item.get_by_role("button", name="Assign intent").click()
    await expect(hr.get_by_role("status")).to_contain_text(f"Message {unsure}: intent assigned")

    # A candidate trained on all four verdicts loses the fragile set: refused.
    await hr.get_by_role("link", name="Models").click()
    await hr.get_by_role("button", name="Train a candidate").click()
    await expect(hr.get_by_role("status")).to_contain_text("trained")
    await expect(hr.locator("table.comparison tr.worse")).to_contain_text("fragile.jsonl")
    await expect(hr.locator("p.gate")).to_contain_text("Accepting is refused")
    await screenshot(hr, request, "regression")
    await hr.get_by_role("button", name="Accept model").click()
    alert = hr.get_by_role("alert")
    await expect(alert).to_contain_text("is refused")
    await expect(alert).to_contain_text("fragile.jsonl: accuracy 0.0000 is below the current")
    await screenshot(hr, request, "refused")

    # The careless verdicts are taken back; the next candidate loses nothing: accepted.
    await hr.get_by_role("link", name="Misunderstood messages").click()
    await hr.get_by_role("link", name="Intent assigned").click()
    for item_id in careless:
        await hr.locator(f"#item-{item_id}").get_by_role("button", name="Reopen").click()
        await expect(hr.get_by_role("status")).to_contain_text(f"Message {item_id} waits")
    await hr.get_by_role("link", name="Models").click()
    await hr.get_by_role("button", name="Train a candidate").click()
    await expect(hr.locator("p.gate")).to_contain_text("may be accepted")
    await expect(hr.locator("table.comparison tr.worse")).to_have_count(0)
    await hr.get_by_role("button", name="Accept model").click()
    await expect(hr.get_by_role("status")).to_contain_text("accepted")
    await expect(hr.locator("#in-use")).to_contain_text("plus 1 reviewed examples")
    await screenshot(hr, request, "accepted")

    # The served engine swapped models: the same words now read as what they meant.
    await say(candidate, UNSURE_TEXT)
    assert (await intents_read(world, conversation_id, 2))[-1] == UNSURE_MEANT
    await screenshot(candidate, request, "candidate-chat")

    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor == f"user:{admin.id}")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert list(actions) == [
        Action.NLU_REVIEW_INTENT_ASSIGNED,
        Action.NLU_MODEL_TRAINED,
        *[Action.NLU_REVIEW_REOPENED] * 3,
        Action.NLU_MODEL_TRAINED,
        Action.NLU_MODEL_ACCEPTED,
    ]
