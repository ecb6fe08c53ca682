"""HR binds WeCom in the console, a draft arrives in WeCom as a card, approving it there shows
in the console: the whole flow in a real browser, with the fake WeCom API playing the HR
user's WeCom client (candor.devtools.fake_wecom)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from candor.models import AuditEntry, HRUser
from candor.runtime import Runtime
from candor.settings import Settings
from tests.api.console.test_browser import (
    ServerThread,
    browser,  # noqa: F401 - the fixture
    log_in,
    pending,
    screenshot,
)
from tests.outreach_world import World
from tests.wecom_world import RunningFakeWeCom, drain_cards, wecom_settings


@pytest.fixture
def settings(settings: Settings, fake_wecom: RunningFakeWeCom) -> Settings:
    return wecom_settings(settings, fake_wecom.base)


@pytest.fixture
def server(world: World, fake_wecom: RunningFakeWeCom) -> Iterator[ServerThread]:
    with ServerThread(world.runtime.settings) as running:
        fake_wecom.state.callback_url = f"{running.url}/wecom/callback"
        yield running


async def _english(runtime: Runtime, user_id: int) -> None:
    async with runtime.transaction() as session:
        (await session.get_one(HRUser, user_id)).locale = "en"


async def test_bind_wecom_and_approve_a_draft_from_its_card(
    browser: Browser,  # noqa: F811
    server: ServerThread,
    world: World,
    fake_wecom: RunningFakeWeCom,
    request: pytest.FixtureRequest,
) -> None:
    fake = fake_wecom.state
    control = fake_wecom.base.removesuffix("/cgi-bin/")
    await _english(world.runtime, world.recruiter.id)
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)

    await page.goto(f"{server.url}/console/me/notifications")
    await page.get_by_role("button", name="Bind WeCom").click()
    code = (await page.locator(".binding-code").inner_text()).strip()
    assert len(code) == 8
    await screenshot(page, request, "code")

    async with httpx.AsyncClient(base_url=control, timeout=20) as wecom_client:
        sent = await wecom_client.post("/_control/text", json={"userid": "li.na", "content": code})
        assert sent.json()["status"] == 200
        assert "Bound" in sent.json()["reply"]
        await page.reload()
        await expect(page.get_by_text("Bound to li.na")).to_be_visible()

        message_id = await pending(world, 1)
        assert await drain_cards(world.runtime) == 1
        [card] = fake.cards("li.na")
        task_id = card["template_card"]["task_id"]
        clicked = await wecom_client.post(
            "/_control/click", json={"userid": "li.na", "task_id": task_id, "key": "approve"}
        )
        assert "Approved" in clicked.json()["reply"]

    await page.goto(f"{server.url}/console/messages/{message_id}")
    heading = page.get_by_role("heading", level=1)
    await expect(heading).not_to_contain_text("pending_approval")
    await expect(page.locator("table").last).to_contain_text(f"user:{world.recruiter.id}")
    await screenshot(page, request, "approved")

    await page.goto(f"{server.url}/console/me/notifications")
    await page.get_by_role("button", name="Unbind").click()
    await expect(page.get_by_role("status")).to_contain_text("Unbound")
    async with world.runtime.sessionmaker() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert [a for a in actions if a.startswith(("hr_chat.", "message."))] == [
        "hr_chat.bound",
        "message.approved",
        "hr_chat.unbound",
    ]
