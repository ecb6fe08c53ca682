"""Personal data in a real browser (see test_browser.py): HR downloads a candidate's data
from their page, and an admin who reads the console in Chinese finds that read, and the
export, on the "who viewed whom" page. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from candor.models import Candidate
from candor.models.enums import Channel, Role
from tests.api.console.test_browser import (  # the same server, browser and helpers
    ServerThread,
    browser,
    log_in,
    screenshot,
    server,
)
from tests.factories import make_hr_user
from tests.outreach_world import World

__all__ = ["browser", "server"]


async def test_hr_downloads_a_candidates_data_and_an_admin_sees_who_viewed_whom(
    world: World,
    server: ServerThread,
    browser: Browser,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    async with world.runtime.transaction() as session:
        candidate_id = await session.scalar(
            select(Candidate.id).where(Candidate.external_id == "cand-1")
        )
        admin = await make_hr_user(session, role=Role.ADMIN, locale="zh_CN")
    assert candidate_id is not None

    hr = await (await browser.new_context(accept_downloads=True)).new_page()
    await log_in(hr, server, world, world.recruiter.id)
    await hr.goto(f"{server.url}/console/candidates/{candidate_id}")
    await screenshot(hr, request, "candidate-export")
    async with hr.expect_download() as downloading:
        await hr.get_by_role("button", name="Export the candidate's data").click()
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    copy = json.loads(saved.read_text(encoding="utf-8"))
    assert copy["profile"]["name"] == "李雷"
    assert copy["scope"] == "your_teams"

    page = await (await browser.new_context()).new_page()
    await log_in(page, server, world, admin.id)
    await page.goto(f"{server.url}/console/audit")
    await page.get_by_role("link", name="谁查看了谁").click()
    await expect(page.get_by_role("heading", name="谁查看了谁")).to_be_visible()
    rows = page.locator("#access-log tbody tr")
    await expect(rows).to_have_count(2)  # the page read, then the export (newest first)
    await expect(rows.nth(0)).to_contain_text("导出了候选人数据")
    await expect(rows.nth(1)).to_contain_text("查看了聊天记录")
    await expect(rows.nth(1)).to_contain_text("李雷")
    await expect(rows.nth(1)).to_contain_text("控制台")
    await screenshot(page, request, "who-viewed-whom")

    # Following the candidate's name narrows the page to the reads of that candidate.
    await rows.nth(1).get_by_role("link", name="李雷").click()
    await expect(page).to_have_url(f"{server.url}/console/audit/access?candidate_id={candidate_id}")
    await expect(rows).to_have_count(2)
