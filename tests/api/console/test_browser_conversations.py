"""Answering a handed-off conversation in a real browser: the candidate talks to the web
chat in one browser context, HR answers from the console in another, both against the app
served by uvicorn (see test_browser.py). Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from candor.audit.service import Action
from candor.chat.binding import issue_link_for_code
from candor.clock import utcnow
from candor.models import AuditEntry, ChatMessage, Handoff
from candor.models.enums import Channel
from nlu.model import NluModel
from tests.api.console.test_browser import (  # the same server, browser and helpers
    ServerThread,
    browser,
    log_in,
    screenshot,
    server,
)
from tests.dialogue_world import nlu_model
from tests.outreach_world import World

__all__ = ["browser", "nlu_model", "server"]
REPLY = "您好，我是招聘负责人王老师。您的面试结果本周五前通知您。"


async def web_link_token(world: World) -> str:
    async with world.runtime.transaction() as session:
        issued = await issue_link_for_code(
            session,
            "AP-2026-000001",
            Channel.WEB,
            actor="test",
            now=utcnow(),
            valid_for=timedelta(days=1),
        )
    assert issued is not None
    return issued.plaintext


async def open_handoffs(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        query = select(func.count()).select_from(Handoff).where(Handoff.closed_at.is_(None))
        return int(await session.scalar(query) or 0)


async def test_answer_a_handed_off_conversation_and_hand_it_back(
    world: World,
    nlu_model: NluModel,  # loaded once per session; the served engine shares it
    server: ServerThread,
    browser: Browser,
    request: pytest.FixtureRequest,
) -> None:
    await world.applicant(1)
    token = await web_link_token(world)

    # The candidate binds the web chat with their link and asks for a person.
    candidate = await (await browser.new_context()).new_page()
    await candidate.goto(f"{server.url}/chat?bind={token}")
    await expect(candidate.locator("#log")).to_contain_text("AP-2026-000001")
    await candidate.locator("#text").fill("帮我转一下人工吧")
    await candidate.locator("#text").press("Enter")
    await expect(candidate.locator("#log li.outbound")).to_have_count(2)
    assert await open_handoffs(world) == 1

    # HR finds it in the handoff queue and answers through the bot.
    hr = await (await browser.new_context()).new_page()
    await log_in(hr, server, world, world.recruiter.id)
    await hr.get_by_role("link", name="Conversations").click()
    row = hr.locator("table.queue tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("帮我转一下人工吧")
    await expect(row).to_contain_text("Web chat")
    await screenshot(hr, request, "handoff-queue")
    await row.get_by_role("link", name="Answer").click()

    await expect(hr.locator("h1")).to_contain_text("李雷")
    await expect(hr.locator(".account .with")).to_contain_text("With HR")
    await hr.get_by_label("Reply").fill(REPLY)
    await hr.get_by_role("button", name="Send").click()

    await expect(hr.get_by_role("status")).to_contain_text("Reply sent")
    mine = hr.locator('li.line[data-author="hr"]')
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text(REPLY)
    await expect(mine.locator(".badge").first).to_have_text("Web chat")
    await expect(hr.locator('li.line[data-author="candidate"]')).to_contain_text("转一下人工")
    await screenshot(hr, request, "replied")

    # The candidate's web chat shows HR's answer.
    await candidate.reload()
    await expect(candidate.locator("#log li.outbound").last).to_contain_text(REPLY)
    await screenshot(candidate, request, "candidate-chat")

    # HR hands the conversation back to the bot; the queue is empty again.
    await hr.get_by_role("button", name="Hand back to the bot").click()
    await expect(hr.get_by_role("status")).to_contain_text("handed back to the bot")
    await expect(hr.locator(".account .with")).to_contain_text("With the bot")
    assert await open_handoffs(world) == 0
    await hr.goto(f"{server.url}/console/conversations")
    await expect(hr.locator("#handoffs")).to_contain_text("No conversation waits for HR")
    await screenshot(hr, request, "handed-back")

    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.actor == f"user:{world.recruiter.id}")
            )
        ).all()
        reply = await session.scalar(
            select(ChatMessage).where(ChatMessage.author == f"user:{world.recruiter.id}")
        )
    decisions = [action for action in actions if action != Action.TRANSCRIPT_READ]
    assert decisions == [Action.CONVERSATION_REPLIED, Action.CONVERSATION_HANDED_BACK]
    assert Action.TRANSCRIPT_READ in actions  # every page of the transcript HR opened
    assert reply is not None
    assert reply.text == REPLY
    assert reply.channel is Channel.WEB
