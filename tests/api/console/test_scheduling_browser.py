"""The interview calendar in a real browser (Debian's chromium, the app served by uvicorn;
see test_browser.py): a recruiter adds weekly slots, finds them on next week's calendar,
books a candidate, moves them, cancels, and records a no-show once an interview began; the
candidate is told in their chat each time. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from candor.clock import BUSINESS_TZ, utcnow
from candor.models import InterviewBooking
from candor.models.enums import Channel
from candor.models.scheduling import Attendance, BookingState
from candor.sla.service import current_calendar
from tests.api.console.test_browser import (  # the same server, browser and helpers
    ServerThread,
    browser,
    log_in,
    screenshot,
    server,
)
from tests.outreach_world import World
from tests.scheduling_world import (
    application_code,
    chats_on,
    scheduling_job,
    sent_in_chat,
    slot_starts_passed,
)

__all__ = ["browser", "server"]


async def slot_id_of(page: Page, nth: int) -> int:
    found = await page.locator("article.slot").nth(nth).get_attribute("id")
    assert found is not None
    return int(found.removeprefix("slot-"))


async def bookings(world: World) -> list[InterviewBooking]:
    async with world.runtime.sessionmaker() as session:
        return list(
            (await session.scalars(select(InterviewBooking).order_by(InterviewBooking.id))).all()
        )


async def test_a_recruiter_schedules_moves_cancels_and_records_a_no_show(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    await scheduling_job(world)
    conversation_id = await chats_on(world, 1, Channel.TELEGRAM)
    code = await application_code(world, 1)
    today = utcnow().astimezone(BUSINESS_TZ).date()
    next_monday = today + timedelta(days=7 - today.weekday())
    async with world.runtime.sessionmaker() as session:
        calendar = await current_calendar(session)
    working = [
        next_monday + timedelta(days=d)
        for d in range(7)
        if calendar.is_working_day(next_monday + timedelta(days=d))
    ]

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, server, world, world.recruiter.id)
    await page.get_by_role("link", name="Interviews").click()
    await expect(page.locator("h1")).to_contain_text("Interview calendar")

    # Weekly windows for the next two weeks: 10:00 and 11:00, 45 minutes each.
    weekly = page.locator("#add-weekly")
    await weekly.locator("summary").click()
    await weekly.get_by_label("From", exact=True).fill(next_monday.isoformat())
    await weekly.get_by_label("To", exact=True).fill((next_monday + timedelta(days=13)).isoformat())
    await weekly.get_by_label("Window starts").fill("10:00")
    await weekly.get_by_label("Window ends").fill("12:00")
    await weekly.get_by_label("Interview length (minutes)").fill("45")
    await weekly.get_by_label("Break between interviews (minutes)").fill("15")
    await weekly.get_by_label("Place", exact=True).fill("上海市徐汇区虹桥路 1 号")
    await weekly.get_by_label("Interviewers (comma-separated)").fill("王老师, 陈经理")
    await weekly.get_by_role("button", name="Add weekly slots").click()
    await expect(page.get_by_role("status")).to_contain_text("Weekly slots added.")

    # Next week shows them on China's working days, two a day, each with one free seat.
    await page.get_by_role("link", name="Next week").click()
    slots = page.locator("article.slot")
    await expect(slots).to_have_count(2 * len(working))
    first_day = page.locator(f"#day-{working[0].isoformat()}")
    await expect(first_day.locator("article.slot .when")).to_have_text(
        ["10:00–10:45", "11:00–11:45"]
    )
    await expect(slots.first).to_contain_text("0 of 1 booked")
    await expect(slots.first).to_contain_text("王老师、陈经理")
    await screenshot(page, request, "week")

    # Book the candidate into the first slot; the calendar shows them, the chat tells them.
    first_slot = await slot_id_of(page, 0)
    slot = page.locator(f"#slot-{first_slot}")
    await slot.get_by_text("Book a candidate").click()
    await slot.get_by_label("Application code").fill(code)
    await slot.get_by_role("button", name="Book", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Booked; the candidate is told.")
    await expect(slot).to_contain_text("1 of 1 booked")
    await expect(slot.locator("li.booking")).to_contain_text("李雷")
    await expect(slot.locator("li.booking")).to_contain_text(code)
    await expect(slot.locator("li.booking")).to_contain_text("confirmed")
    told = await sent_in_chat(world, conversation_id)
    assert len(told) == 1
    assert "招聘方已为您安排“后端工程师”的面试" in told[0]
    assert "10:00–10:45（北京时间）" in told[0]
    assert ".ics?sig=" in told[0]

    # Move them to the second slot of the day.
    second_slot = await slot_id_of(page, 1)
    await slot.locator("li.booking summary").click()
    await slot.get_by_label("Move to").select_option(index=0)
    await slot.get_by_role("button", name="Move", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Moved; the candidate is told.")
    await expect(page.locator(f"#slot-{first_slot}")).to_contain_text("0 of 1 booked")
    moved_to = page.locator(f"#slot-{second_slot}")
    await expect(moved_to.locator("li.booking")).to_contain_text("李雷")
    told = await sent_in_chat(world, conversation_id)
    assert len(told) == 2
    assert "改到" in told[1]
    assert "11:00–11:45" in told[1]
    await screenshot(page, request, "moved")

    # Cancel, with a reason the candidate reads.
    await moved_to.locator("li.booking summary").click()
    await moved_to.get_by_label("Reason (the candidate reads it)").fill("面试官临时出差")
    await moved_to.get_by_role("button", name="Cancel interview").click()
    await expect(page.get_by_role("status")).to_contain_text("Interview cancelled")
    await expect(page.locator(f"#slot-{second_slot}")).to_contain_text("0 of 1 booked")
    await expect(page.locator("li.booking")).to_have_count(0)
    told = await sent_in_chat(world, conversation_id)
    assert len(told) == 3
    assert "已由招聘方取消" in told[2]
    assert "面试官临时出差" in told[2]

    # Booked again; the interview's time comes and the candidate does not: a no-show.
    await slot.get_by_text("Book a candidate").click()
    await slot.get_by_label("Application code").fill(code)
    await slot.get_by_role("button", name="Book", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Booked")
    assert len(await sent_in_chat(world, conversation_id)) == 4
    await slot_starts_passed(world, first_slot)
    await page.get_by_role("link", name="This week").click()
    began = page.locator(f"#slot-{first_slot}")
    await expect(began.locator("li.booking")).to_contain_text("李雷")
    await began.locator("li.booking summary").click()
    await began.get_by_role("button", name="No-show").click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded: no-show.")
    await expect(page.locator(f"#slot-{first_slot} li.booking")).to_contain_text("no_show")
    await screenshot(page, request, "no-show")

    states = [(b.slot_id, b.state, b.attendance) for b in await bookings(world)]
    assert states == [
        (first_slot, BookingState.MOVED, None),
        (second_slot, BookingState.CANCELLED, None),
        (first_slot, BookingState.CONFIRMED, Attendance.NO_SHOW),
    ]
