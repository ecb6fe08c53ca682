"""The console on a phone and a tablet: Debian's chromium emulating touch devices (Playwright's
is_mobile and has_touch, every action a tap), against the app served by uvicorn (see
test_browser.py). Screenshots of every page at both sizes go to test-artifacts/console/.

Tap targets: every button, form field, select, summary, navigation link and `.button` link
must be at least 44x44 CSS px (a checkbox or radio counts by the label around it). The
justified exceptions, as WCAG 2.5.8 allows, are links inside sentences and table cells and
the bars of the SVG charts (each bar's figure is also a link in a table or KPI tile).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import load_principal
from candor.clock import utcnow
from candor.models import (
    Application,
    Conversation,
    HrTask,
    HRUser,
    Job,
    JobQuestion,
    MessageTransition,
    OutreachMessage,
    WebhookEndpoint,
)
from candor.models.dialogue import HrTaskKind, JobQuestionState
from candor.models.enums import ApplicationStatus, InterviewKind, Locale, Role
from candor.models.outreach import MessageState
from candor.models.scheduling import SlotSource
from candor.scheduling import service as scheduling
from candor.scheduling.slots import SlotSpec, add_slots
from tests.api.console.test_browser import (  # the same server, browser and helpers
    ServerThread,
    browser,
    pending,
    screenshot,
    server,
    state_of,
)
from tests.candor.nlu_review.world import conversation, queue
from tests.console_world import PASSWORD, set_password
from tests.outreach_world import World

__all__ = ["browser", "server"]

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
TABLET: dict[str, Any] = {
    "viewport": {"width": 820, "height": 1180},
    "is_mobile": True,
    "has_touch": True,
}

# What overflows the viewport, outside containers that scroll by design (a wide table on a
# phone scrolls inside itself), and which controls are smaller than a fingertip.
FIT = """() => {
  const width = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + Array.from(el.classList).join(".") : "")
    + (el.textContent ? " '" + el.textContent.trim().slice(0, 30) + "'" : "");
  const scrollsInside = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const overflowing = [];
  const root = document.documentElement;
  if (root.scrollWidth > width) overflowing.push("the page: " + root.scrollWidth + " px wide");
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (!box.width && !box.height) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (box.right > width + 0.5 && !scrollsInside(el)) {
      overflowing.push(name(el) + " ends at " + box.right);
    }
  }
  const small = [];
  const controls = "button, .button, select, textarea, summary, nav a, input:not([type=hidden])";
  for (const el of document.querySelectorAll(controls)) {
    const tickable = el.matches("input[type=checkbox], input[type=radio]");
    const target = tickable ? (el.closest("label") || el) : el;
    const box = target.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not shown (a closed <details>)
    if (box.width < 44 || box.height < 44) {
      small.push(name(target) + " " + Math.round(box.width) + "x" + Math.round(box.height));
    }
  }
  return { overflowing, small };
}"""


async def tap_log_in(page: Page, server: ServerThread, email: str) -> None:
    await page.goto(f"{server.url}/console/login")
    await page.get_by_label("E-mail").tap()
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").tap()
    await expect(page).to_have_url(f"{server.url}/console/inbox")


async def in_english(world: World, user_id: int) -> str:
    """The user's console in English (these tests read its English text); their e-mail."""
    async with world.runtime.transaction() as session:
        (await session.get_one(HRUser, user_id)).locale = "en"
    return await set_password(world.runtime, user_id)


async def phone(browser: Browser) -> BrowserContext:
    return await browser.new_context(**PHONE)


async def assert_fits(page: Page, where: str) -> None:
    found = await page.evaluate(FIT)
    assert found["overflowing"] == [], f"{where}: wider than the screen: {found['overflowing']}"
    assert found["small"] == [], f"{where}: tap targets under 44 px: {found['small']}"


async def test_a_recruiter_approves_rejects_and_edits_on_a_phone(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    first, second, third = [await pending(world, n) for n in (1, 2, 3)]
    email = await in_english(world, world.recruiter.id)
    page = await (await phone(browser)).new_page()
    await tap_log_in(page, server, email)

    # The preview reads in full across the card, and the actions sit at its foot.
    card = page.locator(f"#draft-{first}")
    body = card.locator("pre.body").first
    body_box = await body.bounding_box()
    assert body_box is not None
    assert body_box["width"] > 300  # one column: not a strip beside the context
    approve = card.get_by_role("button", name="Approve")
    approve_box = await approve.bounding_box()
    assert approve_box is not None
    assert approve_box["width"] > 300
    assert approve_box["height"] >= 44
    await assert_fits(page, "inbox")
    await screenshot(page, request, "phone-inbox")

    # Approving is one tap from the inbox (the brief allows two).
    await approve.tap()
    await expect(page.get_by_role("status")).to_contain_text(f"Message {first} approved")
    assert await state_of(world, first) is MessageState.QUEUED

    # Rejecting: tap the reason, type it, tap Reject (both across the card too).
    reject = page.locator(f"#draft-{second} form.reject")
    for control in (reject.locator("input[name=reason]"), reject.locator("button")):
        box = await control.bounding_box()
        assert box is not None
        assert box["width"] > 300
    await reject.get_by_placeholder("Reason for rejecting").tap()
    await page.keyboard.type("候选人已撤回申请")
    await reject.get_by_role("button", name="Reject").tap()
    await expect(page.get_by_role("status")).to_contain_text(f"Message {second} rejected")
    assert await state_of(world, second) is MessageState.REJECTED
    async with world.runtime.sessionmaker() as session:
        reasons = await session.scalars(
            select(MessageTransition.reason).where(MessageTransition.message_id == second)
        )
        assert "候选人已撤回申请" in list(reasons)

    # Editing: tap Edit…, change the text, review the changes, approve them.
    await page.locator(f"#draft-{third} a.edit").tap()
    await expect(page).to_have_url(f"{server.url}/console/messages/{third}#edit")
    await page.get_by_label("Message").fill("韩梅梅您好：\n感谢您参加我们的面试。")
    await page.get_by_role("button", name="Show changes").tap()
    await expect(page.locator(".diff .added", has_text="感谢您参加我们的面试")).to_have_count(1)
    await assert_fits(page, "message")
    await screenshot(page, request, "phone-edit")
    await page.get_by_role("button", name="Approve with these changes").tap()
    await expect(page.get_by_role("status")).to_contain_text("edited, approved")
    async with world.runtime.sessionmaker() as session:
        edited = await session.get_one(OutreachMessage, third)
    assert edited.state is MessageState.QUEUED
    assert edited.body == "韩梅梅您好：\n感谢您参加我们的面试。"


async def seed_every_page(world: World) -> dict[str, int]:
    """Enough for every console page to show something: drafts, a conversation with a
    hand-off, a drafted job answer and a task, a misunderstood message, a webhook."""
    message = await pending(world, 1)
    await pending(world, 2)
    conversation_id = await conversation(world, 3)
    await queue(world, conversation_id, "那个面试到底啥时候出结果呀我等了好久了", reason="fallback")
    async with world.runtime.transaction() as session:
        talk = await session.get_one(Conversation, conversation_id)
        job = await session.scalar(select(Job).where(Job.external_id == "job-team-a"))
        assert job is not None
        job.recruiter_id = world.recruiter.id
        session.add(
            JobQuestion(
                conversation_id=talk.id,
                candidate_id=talk.candidate_id,
                job_id=job.id,
                team_id=world.team.id,
                topic="salary",
                locale=Locale.ZH_CN,
                question="这个岗位的薪资范围是多少？可以远程办公吗？",
                draft="薪资面议，详情请与招聘负责人沟通。",
                state=JobQuestionState.PENDING,
            )
        )
        session.add(
            HrTask(
                kind=HrTaskKind.RESCHEDULE,
                team_id=world.team.id,
                candidate_id=talk.candidate_id,
                conversation_id=talk.id,
                details={"proposed": "下周二下午或者周三上午都可以"},
            )
        )
        session.add(
            WebhookEndpoint(
                url="https://ats.example.com/hooks/candor/a-rather-long-path-for-a-narrow-screen",
                description="Moka ATS",
                event_types=["message.delivered"],
                secret="whsec_mobile_test_secret",
                created_by="test",
            )
        )
        await session.flush()
        webhook = (await session.scalars(select(WebhookEndpoint.id))).one()
        await interviews_this_week(session, world, job.id)
        return {
            "message": message,
            "conversation": conversation_id,
            "candidate": talk.candidate_id or 0,
            "webhook": webhook,
        }


async def interviews_this_week(session: AsyncSession, world: World, job_id: int) -> None:
    """The calendar's week: a slot booked for applicant 1 that began an hour ago, and a
    free one later today."""
    recruiter = await load_principal(session, world.recruiter.id)
    assert recruiter is not None
    await scheduling.set_policy(
        session, job_id, interview_kind=InterviewKind.ONSITE, preparation="简历", actor="test"
    )
    soon = utcnow() + timedelta(minutes=5)
    began, _later = await add_slots(
        session,
        recruiter,
        job_id,
        [
            SlotSpec(
                starts_at=soon,
                ends_at=soon + timedelta(minutes=45),
                location="上海市徐汇区虹桥路 1 号 3 楼 301 会议室",
                video_link="https://meet.example.com/a-rather-long-meeting-link-for-a-phone",
                interviewers=("王老师", "陈经理"),
            ),
            SlotSpec(starts_at=soon + timedelta(hours=1), ends_at=soon + timedelta(hours=2)),
        ],
        round=2,
        kind=InterviewKind.ONSITE,
        source=SlotSource.MANUAL,
        now=utcnow(),
    )
    application = await session.scalar(
        select(Application).where(Application.external_id == "app-1")
    )
    assert application is not None
    application.status = ApplicationStatus.ACTIVE  # HR books only an application in process
    await scheduling.hr_book(session, recruiter, application.id, began.id, now=utcnow())
    began.starts_at = utcnow() - timedelta(hours=1)
    began.ends_at = began.starts_at + timedelta(minutes=45)


async def test_every_page_fits_a_phone_and_a_tablet(
    world: World, server: ServerThread, browser: Browser, request: pytest.FixtureRequest
) -> None:
    ids = await seed_every_page(world)
    admin, _ = await world.member(Role.ADMIN)
    email = await in_english(world, admin.id)
    range_ = "from=2026-03-01&to=2026-03-31"
    pages = {
        "inbox": "/console/inbox",
        "message": f"/console/messages/{ids['message']}",
        "conversations": "/console/conversations",
        "candidate": f"/console/candidates/{ids['candidate']}",
        "conversation": f"/console/conversations/{ids['conversation']}",
        "job-questions": "/console/job-questions",
        "hr-tasks": "/console/hr-tasks",
        "escalations": "/console/escalations",
        "templates": "/console/templates",
        "template-editor": "/console/templates/reject.zh-CN",
        "kpis": f"/console/kpis?{range_}&compare_teams=true",
        "kpi-records": f"/console/kpis/records?{range_}&metric=interviews",
        "audit": "/console/audit",
        "nlu-review": "/console/nlu-review",
        "nlu-models": "/console/nlu-review/models",
        "admin-users": "/console/admin/users",
        "admin-user": f"/console/admin/users/{world.recruiter.id}",
        "admin-tokens": "/console/admin/tokens",
        "admin-teams": "/console/admin/teams",
        "admin-webhooks": "/console/admin/webhooks",
        "admin-webhook": f"/console/admin/webhooks/{ids['webhook']}",
        "scheduling": "/console/scheduling",
    }
    for size, device in (("phone", PHONE), ("tablet", TABLET)):
        page = await (await browser.new_context(**device)).new_page()
        await page.goto(f"{server.url}/console/login")
        await assert_fits(page, f"{size} login")
        await tap_log_in(page, server, email)
        for name, path in pages.items():
            answer = await page.goto(f"{server.url}{path}")
            assert answer is not None
            assert answer.status == 200, (name, answer.status)
            await assert_fits(page, f"{size} {name}")
            await screenshot(page, request, f"{size}-{name}")
        # The calendar's forms, every one opened, fit too.
        await page.goto(f"{server.url}/console/scheduling")
        await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        await expect(page.get_by_role("button", name="No-show")).to_be_visible()
        await assert_fits(page, f"{size} scheduling, every form open")
        await screenshot(page, request, f"{size}-scheduling-open")

    # The KPI filters by name, on the tablet: the type-to-filter box narrows the recruiters.
    await page.goto(f"{server.url}/console/kpis?{range_}")
    recruiter = page.locator("#kpi-recruiter")
    await expect(recruiter.locator("option")).to_have_count(2)  # all, and 王招聘
    search = page.get_by_role("searchbox", name="Type to filter: recruiter_id")
    await search.tap()
    await search.fill("nobody")
    await expect(recruiter.locator("option")).to_have_count(1)
    await search.fill("王")
    await expect(recruiter.locator("option")).to_have_count(2)
    await recruiter.select_option(label="王招聘")
    await page.get_by_role("button", name="Apply").tap()
    await expect(page).to_have_url(re.compile(rf"recruiter_id={world.recruiter.id}(&|$)"))
    await expect(page.locator("#kpi-recruiter option[selected]")).to_have_text("王招聘")
