"""HR approvals on the candidate bot: `/start <code>` binds an HR user's chat, cards arrive with
`hr:` buttons, and clicks (real python-telegram-bot Updates through /telegram/webhook) approve
or reject through the console's service, while candidates' messages still reach the dialogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.telegram_hr import TelegramCards
from candor.delivery.loop import DeliveryLoop, Sending
from candor.hr_chat.binding import new_code
from candor.hr_chat.queue import HrCardQueue
from candor.models import AuditEntry, ChatMessage, Conversation, HrCard, OutreachMessage
from candor.models.enums import HrChatPlatform
from candor.models.outreach import MessageState
from candor.runtime import Runtime
from tests.api.routers.test_telegram import HEADERS, YesNoEngine, serving_telegram
from tests.fake_telegram_server import RunningFakeTelegram
from tests.outreach_world import World
from tests.wecom_world import speaks

HR_CHAT, OTHER_CHAT, CANDIDATE_CHAT = 7001, 7002, 42


@dataclass
class Bot:
    http: httpx.AsyncClient
    fake: RunningFakeTelegram
    engine: YesNoEngine
    runtime: Runtime

    async def send(self, update: dict[str, Any]) -> str:
        """Post the update as Telegram would; the bot's last answer to that chat."""
        response = await self.http.post("/telegram/webhook", json=update, headers=HEADERS)
        assert response.status_code == 200, response.text
        chat = (update.get("message") or update["callback_query"]["message"])["chat"]["id"]
        sent = self.fake.state.sent_to(chat)
        return str(sent[-1]["text"]) if sent else ""

    async def text(self, chat: int, text: str) -> str:
        return await self.send(self.fake.state.text_update(chat, text))

    async def click(self, chat: int, data: str) -> str:
        return await self.send(self.fake.state.button_update(chat, data))

    async def drain_cards(self) -> int:
        cards = TelegramCards.from_settings(self.runtime.settings, self.runtime.redis)
        try:
            queue = HrCardQueue(self.runtime, {HrChatPlatform.TELEGRAM: cards})
            return await DeliveryLoop(Sending({}, concurrency=2), [queue]).drain()
        finally:
            await cards.aclose()


@pytest.fixture
async def bot(world: World) -> AsyncIterator[Bot]:
    async with serving_telegram(world) as served:
        yield Bot(served.http, served.fake, served.engine, served.runtime)


async def _draft(world: World, n: int) -> tuple[int, HrCard]:
    await world.applicant(n)
    await world.decide(n, "reject")
    async with world.runtime.sessionmaker() as session:
        message_id = await session.scalar(
            select(OutreachMessage.id).order_by(OutreachMessage.id.desc())
        )
        card = await session.scalar(select(HrCard).where(HrCard.message_id == message_id))
    assert message_id is not None
    assert card is not None
    return message_id, card


async def _chat_messages(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(ChatMessage)) or 0)


async def _conversations(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)


async def _state(world: World, message_id: int) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(OutreachMessage, message_id)


async def test_hr_binds_and_decides_on_telegram_while_candidates_talk_to_the_bot(
    world: World, bot: Bot
) -> None:
    candidate_reply = await bot.text(CANDIDATE_CHAT, "hi")
    assert candidate_reply  # a candidate: the conversation answers, as before
    assert "绑定码" not in candidate_reply
    assert "控制台" not in candidate_reply
    chat_messages = await _chat_messages(world)

    await speaks(world.runtime, None, world.recruiter, world.outsider)  # Chinese, the default
    code = await new_code(bot.runtime.redis, world.recruiter.id, HrChatPlatform.TELEGRAM)
    assert "绑定成功" in await bot.text(HR_CHAT, f"/start {code}")
    assert "绑定码无效" in await bot.text(OTHER_CHAT, f"/start {code}")  # used up
    # Everything else from the bound chat is HR's too: help, never the candidate dialogue.
    conversations = await _conversations(world)
    assert "卡片上的按钮" in await bot.text(HR_CHAT, "/start")
    assert "卡片上的按钮" in await bot.text(HR_CHAT, "hello")
    assert "卡片上的按钮" in await bot.click(HR_CHAT, "yes")  # not an `hr:` button
    assert await _conversations(world) == conversations
    assert await _chat_messages(world) == chat_messages

    message_id, card = await _draft(world, 1)
    assert await bot.drain_cards() == 1
    [sent] = [m for m in bot.fake.state.sent_to(HR_CHAT) if "reply_markup" in m]
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == [f"hr:a:{card.token}", f"hr:r:{card.token}"]
    assert keyboard[1][0]["url"].endswith(f"/console/messages/{message_id}")

    assert "不属于您" in await bot.click(OTHER_CHAT, f"hr:a:{card.token}")
    assert (await _state(world, message_id)).state is MessageState.PENDING_APPROVAL
    assert "已批准" in await bot.click(HR_CHAT, f"hr:a:{card.token}")
    assert (await _state(world, message_id)).decided_by == f"user:{world.recruiter.id}"
    assert "此项已处理" in await bot.click(HR_CHAT, f"hr:a:{card.token}")
    assert await bot.drain_cards() == 1
    [edit] = bot.fake.state.edits
    assert str(edit["message_id"]) == str(sent["message_id"])
    assert "王招聘" in edit["text"]
    assert [row[0].get("url") for row in edit["reply_markup"]["inline_keyboard"]] != [None]

    # Reject: the button asks, the chat's next text is the reason.
    second, card2 = await _draft(world, 2)
    await bot.drain_cards()
    assert "驳回原因" in await bot.click(HR_CHAT, f"hr:r:{card2.token}")
    assert "已驳回" in await bot.text(HR_CHAT, "措辞太生硬")
    rejected = await _state(world, second)
    assert rejected.state is MessageState.REJECTED
    assert rejected.rejection_reason == "措辞太生硬"
    async with world.runtime.sessionmaker() as session:
        vias = (
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action.like("message.%"))
            )
        ).all()
    assert [d.get("via") for d in vias if d] == ["telegram", "telegram"]
    assert await _chat_messages(world) == chat_messages  # HR traffic never reached the dialogue
