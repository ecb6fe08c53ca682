"""The HR user's own notifications page: a one-time code per platform, only for platforms
this server has configured, behind the console's CSRF check."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from candor.hr_chat import binding
from candor.models import HRUser
from candor.models.enums import HrChatPlatform
from candor.settings import Settings
from tests.console_world import logged_in, post_form
from tests.outreach_world import World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Telegram configured (its Bot API unreachable: the console does not need it), WeCom not.
    return settings.model_copy(
        update={
            "telegram_bot_token": SecretStr("123:abc"),
            "telegram_api_base": "http://127.0.0.1:9",
            "telegram_bot_username": "candor_bot",
        }
    )


async def test_a_code_binds_once_and_only_configured_platforms_are_offered(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:  # the assertions read English
        (await session.get_one(HRUser, world.recruiter.id)).locale = "en"
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    page = await console.get("/console/me/notifications")
    assert page.status_code == 200
    assert "Bind Telegram" in page.text
    assert "Bind WeCom" not in page.text

    assert (
        await console.post("/console/me/notifications/bind", data={"platform": "telegram"})
    ).status_code == 403
    refused = await post_form(console, "/console/me/notifications/bind", csrf, platform="wecom")
    assert refused.status_code == 422
    assert "not configured here" in refused.text

    shown = await post_form(console, "/console/me/notifications/bind", csrf, platform="telegram")
    found = re.search(r"/start ([A-Z0-9]{8})", shown.text)
    assert found is not None
    code = found.group(1)
    assert f"https://t.me/candor_bot?start={code}" in shown.text

    async with world.runtime.transaction() as session:
        bound = await binding.bind(
            session, world.runtime.redis, HrChatPlatform.TELEGRAM, "7001", code
        )
        again = await binding.bind(
            session, world.runtime.redis, HrChatPlatform.TELEGRAM, "7002", code
        )
    assert (bound.ok, again.ok, again.reason) == (True, False, "bad_code")
    assert "Bound to 7001" in (await console.get("/console/me/notifications")).text

    unbound = await post_form(
        console, "/console/me/notifications/unbind", csrf, platform="telegram"
    )
    assert unbound.status_code == 303
    after = await console.get(unbound.headers["location"])
    assert "Unbound" in after.text
    assert "Bound to" not in after.text
