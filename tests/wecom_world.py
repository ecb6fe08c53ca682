"""The outreach world with WeCom approvals on: the fake WeCom API (candor.devtools.fake_wecom)
served on loopback, settings pointing at it, and helpers playing an HR user in the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.channels.wecom import WeComCards
from candor.delivery.loop import DeliveryLoop, Sending
from candor.devtools.fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeComState,
    click_xml,
    create_fake_wecom_app,
    open_reply,
    seal,
    text_xml,
)
from candor.hr_chat.binding import new_code
from candor.hr_chat.queue import HrCardQueue
from candor.models import HrCard, HRUser
from candor.models.enums import HrChatPlatform
from candor.runtime import Runtime
from candor.settings import Settings
from tests.fakes import serving


@dataclass(frozen=True, slots=True)
class RunningFakeWeCom:
    base: str
    state: FakeWeComState


@pytest.fixture
async def fake_wecom() -> AsyncIterator[RunningFakeWeCom]:
    state = FakeWeComState()
    async with serving(create_fake_wecom_app(state)) as origin:
        yield RunningFakeWeCom(base=f"{origin}/cgi-bin/", state=state)


def wecom_settings(settings: Settings, base: str) -> Settings:
    return settings.model_copy(
        update={
            "wecom_corp_id": CORP_ID,
            "wecom_agent_id": AGENT_ID,
            "wecom_secret": SecretStr(SECRET),
            "wecom_token": SecretStr(TOKEN),
            "wecom_encoding_aes_key": SecretStr(AES_KEY),
            "wecom_api_base_url": base,
        }
    )


@dataclass
class WeComMember:
    """An HR user in the WeCom app, posting real encrypted callbacks to Candor."""

    http: httpx.AsyncClient
    state: FakeWeComState
    userid: str

    async def post(self, inner_xml: str) -> httpx.Response:
        query, body = seal(self.state.crypto, inner_xml)
        return await self.http.post("/wecom/callback", params=query, content=body)

    async def say(self, content: str) -> str:
        response = await self.post(text_xml(CORP_ID, AGENT_ID, self.userid, content))
        assert response.status_code == 200, response.text
        return open_reply(self.state.crypto, response.content)

    async def click(self, task_id: str, key: str) -> str:
        response = await self.post(click_xml(CORP_ID, AGENT_ID, self.userid, task_id, key))
        assert response.status_code == 200, response.text
        return open_reply(self.state.crypto, response.content)


async def bind_wecom(runtime: Runtime, member: WeComMember, user: HRUser) -> str:
    code = await new_code(runtime.redis, user.id, HrChatPlatform.WECOM)
    return await member.say(code)


async def drain_cards(runtime: Runtime) -> int:
    """What `candor worker` does for the card queue: rounds until nothing is due."""
    cards = WeComCards(runtime.settings)
    try:
        queue = HrCardQueue(runtime, {HrChatPlatform.WECOM: cards})
        return await DeliveryLoop(Sending({}, concurrency=4), [queue]).drain()
    finally:
        await cards.aclose()


async def cards_of(runtime: Runtime, **where: Any) -> list[HrCard]:
    async with runtime.sessionmaker() as session:
        query = select(HrCard).order_by(HrCard.id)
        for name, value in where.items():
            query = query.where(getattr(HrCard, name) == value)
        return list((await session.scalars(query)).all())


async def speaks(runtime: Runtime, locale: str | None, *users: HRUser) -> None:
    """Give HR users a language: None is Chinese, the product default (the factory's
    users speak English), so a test asserting Chinese chat replies says so."""
    async with runtime.transaction() as session:
        for user in users:
            (await session.get_one(HRUser, user.id)).locale = locale
