"""The console in a real browser: Debian's chromium driven by Playwright, against the app
served by a real uvicorn server. Screenshots go to test-artifacts/console/.

`python3 dev.py test` installs chromium when it is missing. Without it these tests are
skipped with the reason, and with CI=true they fail instead.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from api.app import create_app
from candor.models.enums import Channel, Role
from candor.models.outreach import MessageState, OutreachMessage
from candor.settings import Settings
from tests.conftest import IN_CI
from tests.console_world import set_password
from tests.factories import application_created
from tests.fakes import free_port
from tests.outreach_world import World

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"

CHROMIUM_PATH = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
if CHROMIUM_PATH is None:
    reason = "Debian's chromium is not installed; `python3 dev.py test` installs it"
    if IN_CI:
        raise RuntimeError(f"CI=true: {reason}")
    pytest.skip(reason, allow_module_level=True)


class ServerThread:
    """uvicorn serving the app in a thread with its own event loop and runtime."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        # "localhost" is a secure context for Chromium, so it keeps the Secure cookie.
        return f"http://localhost:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def server(world: World) -> Iterator[ServerThread]:
    with ServerThread(world.runtime.settings) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Page, request: pytest.FixtureRequest, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.replace("[", "-").replace("]", "")
    await page.screenshot(path=str(ARTIFACTS / f"{test}-{name}.png"), full_page=True)


async def log_in(page: Page, server: ServerThread, world: World, user_id: int) -> None:
    email = await set_password(world.runtime, user_id)
    await page.goto(f"{server.url}/console/inbox")
    await expect(page).to_have_url(f"{server.url}/console/login?next=/console/inbox")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("correct horse battery staple")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server.url}/console/inbox")


async def pending(world: World, n: int) -> int:
    await world.applicant(n, bind=[Channel.WECHAT])
    await world.decide(n, "reject")
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(select(OutreachMessage.id).order_by(OutreachMessage.id.desc()))
        assert found is not None
        return found


async def state_of(world: World, message_id: int) -> MessageState:
    async with world.runtime.sessionmaker() as session:
        return (await session.get_one(OutreachMessage, message_id)).state


async def test_log_in_and_approve_a_draft_with_the_keyboard(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    message_id = await pending(world, 1)
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)
    draft = page.locator(f"#draft-{message_id}")
    await expect(draft).to_be_visible()
    await expect(draft.locator(".due")).to_contain_text("overdue")
    await screenshot(page, request, "inbox")

    await page.keyboard.press("a")  # the first draft is selected on arrival

    await expect(page.get_by_role("status")).to_contain_text(f"Message {message_id} approved")
    assert await state_of(world, message_id) is MessageState.QUEUED
    await screenshot(page, request, "approved")

    # The header's language switch: a plain form, back on the same page in Chinese.
    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("审批")
    await expect(page.locator(".empty")).to_contain_text("没有待审批的消息")
    await screenshot(page, request, "inbox-zh")
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Approvals")


async def test_edit_a_draft_review_the_diff_and_approve(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    message_id = await pending(world, 1)
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)
    await page.locator(f"#draft-{message_id} a.edit").click()
    body = page.get_by_label("Message")
    await body.fill("李雷您好：\n感谢您参加我们的面试。")

    await page.get_by_role("button", name="Show changes").click()
    await expect(page.locator(".diff .added", has_text="感谢您参加我们的面试")).to_have_count(1)
    await screenshot(page, request, "diff")
    await page.get_by_role("button", name="Approve with these changes").click()

    await expect(page.get_by_role("status")).to_contain_text("edited, approved")
    async with world.runtime.sessionmaker() as session:
        message = await session.get_one(OutreachMessage, message_id)
    assert message.state is MessageState.QUEUED
    assert message.body == "李雷您好：\n感谢您参加我们的面试。"


async def test_the_dashboard_draws_its_charts_and_links_them_to_records(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    await pending(world, 1)
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)

    await page.goto(f"{server.url}/console/kpis?from=2026-03-01&to=2026-03-31&compare_teams=true")

    for chart in ("timeliness", "status", "completions", "funnel"):
        svg = page.locator(f"#chart-{chart} svg")
        await expect(svg).to_be_visible()
        box = await svg.bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 50
    await expect(page.locator("#chart-status rect.bar")).to_have_count(3)
    await screenshot(page, request, "dashboard")

    await page.locator("#chart-funnel a").first.click()
    await expect(page.locator("h1")).to_contain_text("Funnel: applied")
    await expect(page.locator("table.records tbody tr")).to_have_count(1)


async def test_the_template_editor_previews_as_you_type(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    await world.applicant(1)
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)
    await page.goto(f"{server.url}/console/templates/reject.zh-CN")

    await page.get_by_label("Body").fill("{{ candidate_name }}，感谢您的耐心")
    await expect(page.locator("#preview")).to_contain_text("李雷，感谢您的耐心")
    await page.get_by_label("Body").fill("{{ salary }}")
    await expect(page.locator("#preview .problems")).to_contain_text("salary")
    await screenshot(page, request, "template-error")


async def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    admin, _ = await world.member(Role.ADMIN)
    page = await browser.new_page()
    await log_in(page, server, world, admin.id)
    await page.get_by_role("link", name="Access").click()
    await page.get_by_role("link", name="API tokens").click()
    await expect(page).to_have_url(f"{server.url}/console/admin/tokens")

    await page.get_by_label("Name").fill("moka-ats")
    await page.get_by_label("ats:write").check()
    await page.get_by_role("button", name="Create token").click()

    shown = page.get_by_label("New token")
    await expect(shown).to_have_value(re.compile(r"^cnd_"))
    await expect(page.locator("#issued")).to_contain_text("shown only this once")
    plaintext = await shown.input_value()
    await screenshot(page, request, "token-created")
    events = f"{server.url}/api/v1/ats/events"
    auth = {"Authorization": f"Bearer {plaintext}"}
    async with httpx.AsyncClient() as http:
        accepted = await http.post(events, json=application_created(event_id="e-1"), headers=auth)
    assert accepted.status_code == 200, accepted.text

    await page.goto(f"{server.url}/console/admin/tokens")  # once: not on the page again
    await expect(page.get_by_label("New token")).to_have_count(0)
    assert plaintext not in await page.content()
    await page.get_by_role("button", name="Revoke moka-ats").click()

    await expect(page.get_by_role("status")).to_contain_text("Token revoked")
    await expect(page.locator("table.tokens tr", has_text="moka-ats")).to_contain_text("revoked")
    await screenshot(page, request, "token-revoked")
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            events,
            json=application_created(event_id="e-2", application="a-2", candidate="c-2"),
            headers=auth,
        )
    assert refused.status_code == 401


async def submit_login(page: Page, server: ServerThread, email: str, password: str) -> None:
    await page.goto(f"{server.url}/console/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_a_known_browser_logs_in_while_another_is_slowed_down(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    """Chromium keeps the device cookie (Secure, SameSite=Strict, its own path) and sends it
    with the login form, so wrong passwords elsewhere do not keep its user out."""
    page = await browser.new_page()
    await log_in(page, server, world, world.recruiter.id)
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{server.url}/console/login")
    email = world.recruiter.email
    other = await browser.new_page()  # a new context: no cookies, same address
    for n in range(5):
        await submit_login(other, server, email, f"wrong guess {n}")
        await expect(other.get_by_role("alert")).to_contain_text("wrong password")

    await submit_login(other, server, email, "correct horse battery staple")
    await expect(other.get_by_role("alert")).to_contain_text("try again in")
    await screenshot(other, request, "slowed")

    await submit_login(page, server, email, "correct horse battery staple")
    await expect(page).to_have_url(f"{server.url}/console/inbox")
