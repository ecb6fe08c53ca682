"""An advance's booking link in a real browser: /b/<token> opens the web chat bound to the
application and asks to book at once; a closed link shows a page that names nothing."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, expect
from sqlalchemy import select

from candor.models import ChatMessage
from candor.models.chat import Direction
from nlu.model import NluModel
from tests.api.console.test_browser import ServerThread, browser, server
from tests.candor.scheduling.flow_world import enable_booking, invitation
from tests.dialogue_world import nlu_model
from tests.outreach_world import World

__all__ = ["browser", "nlu_model", "server"]


async def _booking_asked(world: World) -> ChatMessage | None:
    """The page's request to book, which it sends once the binding was answered: waited
    for, since the page sends it after the reply the test saw."""
    for _ in range(100):
        async with world.runtime.sessionmaker() as session:
            pressed = await session.scalar(
                select(ChatMessage).where(
                    ChatMessage.direction == Direction.INBOUND, ChatMessage.event == "button"
                )
            )
        if pressed is not None:
            return pressed
        await asyncio.sleep(0.1)
    return None


async def test_the_booking_link_binds_the_web_chat_and_asks_to_book(
    world: World,
    nlu_model: NluModel,  # loaded once per session; the served engine shares it
    server: ServerThread,
    browser: Browser,
) -> None:
    await world.applicant(1, preferred_channels=["email"])
    await enable_booking(world, 1)
    await world.decide(1, "advance")
    token = (await invitation(world, 1)).token

    page = await (await browser.new_context()).new_page()
    await page.goto(f"{server.url}/b/{token}")

    await expect(page.locator("#log")).to_contain_text("AP-2026-000001")
    assert page.url == f"{server.url}/chat"  # the binding token left the address bar
    pressed = await _booking_asked(world)
    assert pressed is not None
    assert "/book_interview" in str(pressed.payload) + str(pressed.text)

    closed = await (await browser.new_context()).new_page()
    answer = await closed.goto(f"{server.url}/b/not-a-token")
    assert answer is not None
    assert answer.status == 404
    await expect(closed.locator("h1").first).to_have_text("链接已失效")
