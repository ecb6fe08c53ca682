from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select
from telegram import Bot, Update

from bot.channels.ratelimit import RedisRateLimiter
from bot.channels.telegram import TelegramBot, TelegramChannel, inbound_from_update, rate_limiter
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.chat.messages import Button, InboundMessage, Reply
from candor.delivery.ports import Delivery, Permanent, RetryAfter, Sent
from candor.devtools.fake_telegram import FakeTelegramState
from candor.models import ChatIdentity
from candor.models.enums import Channel
from candor.models.scheduling import BookingState
from candor.runtime import Runtime
from candor.settings import Settings
from nlu.model import NluModel
from tests.booking_chat_world import booking_world, bookings
from tests.conftest import TEST_SECRET
from tests.dialogue_world import nlu_model
from tests.fake_telegram_server import RunningFakeTelegram, running_fake_telegram
from tests.fakes import free_port
from tests.outreach_world import World

TOKEN = "123456:TEST-TOKEN"
__all__ = ["nlu_model"]  # the fixture


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeTelegram]:
    async with running_fake_telegram() as running:
        yield running


def _bot(base: str) -> Bot:
    return Bot(TOKEN, base_url=f"{base}/bot")


def _delivery(chat_id: str, body: str = "面试结果：恭喜进入下一轮") -> Delivery:
    return Delivery(
        idempotency_key=f"1:1:telegram:{chat_id}",
        channel=Channel.TELEGRAM,
        recipient=chat_id,
        subject="结果",
        body=body,
        locale="zh-CN",
    )


async def test_a_message_is_sent(fake: RunningFakeTelegram, runtime: Runtime) -> None:
    channel = TelegramChannel(_bot(fake.base), rate_limiter(runtime.redis))

    result = await channel.send(_delivery("4242"))
    await channel.aclose()

    assert isinstance(result, Sent)
    [sent] = fake.state.sent_to("4242")
    assert sent["text"] == "面试结果：恭喜进入下一轮"
    assert result.provider_message_id == f"4242:{sent['message_id']}"


async def test_429_is_retried_after_the_given_time_and_blocks_the_chat_everywhere(
    fake: RunningFakeTelegram, runtime: Runtime
) -> None:
    fake.state.retry_after = 7
    fake.state.script("4242", 429)
    first = TelegramChannel(_bot(fake.base), rate_limiter(runtime.redis), max_wait=0)
    other_process = TelegramChannel(_bot(fake.base), rate_limiter(runtime.redis), max_wait=0)

    result = await first.send(_delivery("4242"))
    blocked = await other_process.send(_delivery("4242"))
    await first.aclose()
    await other_process.aclose()

    assert result == RetryAfter(7.0, "telegram 429: retry after 7s")
    assert isinstance(blocked, RetryAfter)
    assert 6.0 < blocked.seconds <= 7.0
    assert fake.state.sent == []


@pytest.mark.parametrize("status", [403, 400])
async def test_blocked_or_unknown_chats_are_permanent(
    fake: RunningFakeTelegram, runtime: Runtime, status: int
) -> None:
    fake.state.script("4242", status)
    channel = TelegramChannel(_bot(fake.base), rate_limiter(runtime.redis))

    result = await channel.send(_delivery("4242"))
    await channel.aclose()

    assert isinstance(result, Permanent)


async def test_an_unreachable_api_is_retried(runtime: Runtime) -> None:
    channel = TelegramChannel(_bot(f"http://127.0.0.1:{free_port()}"), rate_limiter(runtime.redis))

    result = await channel.send(_delivery("4242"))

    assert isinstance(result, RetryAfter)


async def test_one_message_per_second_per_chat_across_senders(
    fake: RunningFakeTelegram, runtime: Runtime
) -> None:
    senders = [TelegramChannel(_bot(fake.base), rate_limiter(runtime.redis)) for _ in range(2)]

    results = await asyncio.gather(*(s.send(_delivery("4242")) for s in senders))
    for sender in senders:
        await sender.aclose()

    assert all(isinstance(r, Sent) for r in results)
    first, second = sorted(m["at"] for m in fake.state.sent_to("4242"))
    # The slots are a second apart; the requests' arrival jitters with the machine's load
    # (0.69 s seen on a busy machine), while without the limiter both arrive at once.
    assert second - first >= 0.5


async def test_the_overall_limit_is_shared() -> None:
    redis: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    processes = [RedisRateLimiter(redis, prefix="t", per_second=3) for _ in range(2)]
    # Start just after a second boundary so all four fall into one window.
    await asyncio.sleep(1.02 - time.time() % 1)
    started = time.monotonic()

    waits = [await processes[i % 2].acquire(f"chat-{i}", max_wait=0) for i in range(4)]

    assert waits[:3] == [None, None, None]
    assert waits[3] is not None
    assert waits[3] > 0.5
    assert await processes[1].acquire("chat-3", max_wait=2) is None
    assert time.monotonic() - started >= 0.5
    await redis.aclose()


def _update(data: dict[str, Any]) -> Update:
    update = Update.de_json(data, None)
    assert update is not None
    return update


def test_updates_become_inbound_messages() -> None:
    state = FakeTelegramState()
    start = inbound_from_update(_update(state.text_update(42, "/start abcDEF_123-xyz0123456789")))
    text = inbound_from_update(_update(state.text_update(42, "我的面试结果出来了吗？")))
    button = inbound_from_update(_update(state.button_update(42, "rating:5")))
    group = state.text_update(42, "hi")
    group["message"]["chat"]["type"] = "group"

    assert start is not None
    assert (start.event, start.event_key, start.text) == ("start", "abcDEF_123-xyz0123456789", None)
    assert text is not None
    assert (text.external_user_id, text.text, text.event) == ("42", "我的面试结果出来了吗？", None)
    assert button is not None
    assert (button.event, button.event_key) == ("button", "rating:5")
    assert inbound_from_update(_update(group)) is None


class ButtonsGateway:
    def __init__(self) -> None:
        self.seen: list[InboundMessage] = []

    async def handle(self, message: InboundMessage) -> list[Reply]:
        self.seen.append(message)
        return [
            Reply(
                "满意度如何？",
                tuple(Button(str(n), f"rating:{n}") for n in range(1, 6)),
            )
        ]


async def test_long_polling_answers_with_an_inline_keyboard(fake: RunningFakeTelegram) -> None:
    polling_settings = Settings(
        env="test", secret_key=TEST_SECRET, telegram_bot_token=TOKEN, telegram_api_base=fake.base
    )
    redis: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    gateway = ButtonsGateway()
    bot = TelegramBot.from_settings(polling_settings, gateway, redis, polling=True)
    fake.state.queue_update(fake.state.text_update(42, "hello"))

    await bot.start()
    assert bot.application.updater is not None
    await bot.application.updater.start_polling(poll_interval=0.0, timeout=1)
    for _ in range(200):
        if fake.state.sent_to("42"):
            break
        await asyncio.sleep(0.02)
    await bot.application.updater.stop()
    await bot.stop()
    await redis.aclose()

    [sent] = fake.state.sent_to("42")
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == [f"rating:{n}" for n in range(1, 6)]
    assert [m.text for m in gateway.seen] == ["hello"]


async def test_a_candidate_books_moves_and_cancels_an_interview_on_telegram(
    fake: RunningFakeTelegram, world: World, nlu_model: NluModel
) -> None:
    """End to end: real Update objects and inline keyboards, the real gateway and engine."""
    await world.applicant(1, bind=[Channel.TELEGRAM])
    async with world.runtime.transaction() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "telegram-user-1")
        )
        assert identity is not None
        identity.external_user_id = "4242"  # Telegram's chat id
    booking = await booking_world(world)
    settings = world.runtime.settings.model_copy(
        update={"telegram_bot_token": SecretStr(TOKEN), "telegram_api_base": fake.base}
    )
    runtime = dataclasses.replace(world.runtime, settings=settings)
    gateway = ConversationGateway(runtime, engine=EmbeddedEngine(runtime, model=nlu_model))
    bot = TelegramBot.from_settings(settings, gateway, runtime.redis, polling=False)
    await bot.start()

    async def send(data: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(fake.state.sent_to(4242))
        await bot.handle(Update.de_json(data, bot.bot))
        return fake.state.sent_to(4242)[before:]

    def key(sent: list[dict[str, Any]], prefix: str) -> str:
        keys = [
            b
            for m in sent
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ]
        return str(next(b["callback_data"] for b in keys if b["callback_data"].startswith(prefix)))

    try:
        offered = await send(fake.state.text_update(4242, "下一轮面试怎么约时间？"))
        rows = offered[-1]["reply_markup"]["inline_keyboard"]
        assert len(rows) == 5  # three times, "more", "none of these": one per row
        assert rows[0][0]["callback_data"] == f'/choose_slot{{"slot_id": "{booking.first}"}}'
        held = await send(fake.state.button_update(4242, rows[0][0]["callback_data"]))
        booked = await send(fake.state.button_update(4242, key(held, "/confirm_booking")))
        assert "预约成功" in booked[-1]["text"]

        moving = await send(fake.state.text_update(4242, booking.move_request()))
        chosen = await send(fake.state.button_update(4242, key(moving, "/choose_slot")))
        moved = await send(fake.state.button_update(4242, key(chosen, "/confirm_booking")))
        assert "已改期" in moved[-1]["text"]

        asked = await send(fake.state.text_update(4242, "不好意思，我要取消面试"))
        cancelled = await send(fake.state.button_update(4242, key(asked, "/cancel_booking")))
        assert "已取消" in cancelled[-1]["text"]
    finally:
        await bot.stop()

    first, second = await bookings(world, 1)
    assert (first.slot_id, first.state) == (booking.first, BookingState.MOVED)
    assert (second.slot_id, second.state) == (booking.afternoon, BookingState.CANCELLED)
    assert "answerCallbackQuery" in [name for name, _ in fake.state.calls]
