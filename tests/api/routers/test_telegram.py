from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy import func, select

from api.app import create_app
from bot.conversation import ConversationGateway
from candor.chat import binding
from candor.chat.engine import Turn
from candor.chat.messages import MAX_TEXT_CHARS, Button, Reply
from candor.clock import utcnow
from candor.models import Application, ChatIdentity, ChatMessage
from candor.models.enums import Channel
from candor.runtime import Runtime
from tests.fake_telegram_server import RunningFakeTelegram, running_fake_telegram
from tests.fakes import free_port
from tests.outreach_world import World

SECRET = "webhook-secret-0123456789"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


class YesNoEngine:
    """A dialogue engine that asks a yes/no question, and fails when told to."""

    name = "yes-no"

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.failures = 0

    async def respond(self, session: Any, turn: Turn) -> list[Reply]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("engine down")
        self.turns.append(turn)
        return [Reply("要改约面试时间吗？", (Button("是", "yes"), Button("否", "no")))]


@dataclass
class Telegram:
    http: httpx.AsyncClient
    fake: RunningFakeTelegram
    engine: YesNoEngine
    runtime: Runtime

    async def post(
        self, update: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post("/telegram/webhook", json=update, headers=headers or HEADERS)

    async def messages(self) -> int:
        async with self.runtime.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(ChatMessage)) or 0)


@asynccontextmanager
async def serving_telegram(world: World) -> AsyncIterator[Telegram]:
    """The app with its Telegram bot configured against the fake Bot API, and a client."""
    engine = YesNoEngine()
    async with running_fake_telegram() as fake:
        settings = world.runtime.settings.model_copy(
            update={
                "telegram_bot_token": SecretStr(fake.state.token),
                "telegram_webhook_secret": SecretStr(SECRET),
                "telegram_api_base": fake.base,
            }
        )
        runtime = replace(world.runtime, settings=settings)
        app = create_app(
            runtime=runtime, gateway_factory=lambda r: ConversationGateway(r, engine=engine)
        )
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            yield Telegram(http, fake, engine, runtime)


@pytest.fixture
async def telegram(world: World) -> AsyncIterator[Telegram]:
    async with serving_telegram(world) as served:
        yield served


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}])
async def test_a_wrong_or_missing_secret_is_forbidden(
    telegram: Telegram, headers: dict[str, str]
) -> None:
    response = await telegram.http.post(
        "/telegram/webhook", json=telegram.fake.state.text_update(42, "hi"), headers=headers
    )

    assert response.status_code == 403
    assert await telegram.messages() == 0
    assert telegram.fake.state.sent == []


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b'{"message": {}}', 400), (b'{"update_id": "7"}', 400), (b"[]", 400)],
)
async def test_bad_bodies_are_refused(telegram: Telegram, body: bytes, status: int) -> None:
    response = await telegram.http.post(
        "/telegram/webhook",
        content=body,
        headers={**HEADERS, "Content-Type": "application/json"},
    )

    assert response.status_code == status
    assert await telegram.messages() == 0


async def test_a_start_link_binds_and_a_redelivery_is_ignored(
    telegram: Telegram, world: World
) -> None:
    await world.applicant(1)
    application = await world.application(1)
    async with world.runtime.transaction() as session:
        issued = await binding.issue_token(
            session,
            await session.get_one(Application, application.id),
            Channel.TELEGRAM,
            actor="test",
            now=utcnow(),
            valid_for=binding.CODE_TTL * 100,
        )
    update = telegram.fake.state.text_update(42, f"/start {issued.plaintext}")

    first = await telegram.post(update)
    again = await telegram.post(update)

    assert first.json() == {"ok": True}
    assert again.json() == {"ok": True, "duplicate": True}
    [reply] = telegram.fake.state.sent_to(42)
    assert application.code in reply["text"]
    async with world.runtime.sessionmaker() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "42")
        )
    assert identity is not None
    assert identity.candidate_id == application.candidate_id


async def test_engine_replies_carry_an_inline_keyboard_and_buttons_come_back(
    telegram: Telegram, world: World
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])  # chat id "telegram-user-1"
    async with world.runtime.transaction() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "telegram-user-1")
        )
        assert identity is not None
        identity.external_user_id = "4242"

    await telegram.post(telegram.fake.state.text_update(4242, "我想改时间"))
    await telegram.post(telegram.fake.state.button_update(4242, "yes"))

    [question, _] = telegram.fake.state.sent_to(4242)
    keyboard = question["reply_markup"]["inline_keyboard"]
    assert [[b["text"], b["callback_data"]] for b in keyboard[0]] == [["是", "yes"], ["否", "no"]]
    assert [(t.text, t.event, t.event_key) for t in telegram.engine.turns] == [
        ("我想改时间", None, None),
        (None, "button", "yes"),
    ]
    assert "answerCallbackQuery" in [name for name, _ in telegram.fake.state.calls]


async def test_a_failed_update_is_redelivered_and_then_handled(
    telegram: Telegram, world: World
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    async with world.runtime.transaction() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "telegram-user-1")
        )
        assert identity is not None
        identity.external_user_id = "4242"
    telegram.engine.failures = 1
    update = telegram.fake.state.text_update(4242, "在吗")

    failed = await telegram.post(update)
    retried = await telegram.post(update)

    assert failed.status_code == 503
    assert retried.json() == {"ok": True}
    assert [t.text for t in telegram.engine.turns] == ["在吗"]
    assert len(telegram.fake.state.sent_to(4242)) == 1


async def test_telegram_off_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/telegram/webhook", json={"update_id": 1}, headers=HEADERS)

    assert response.status_code == 404


async def test_a_reply_to_a_user_who_blocked_the_bot_is_not_retried(telegram: Telegram) -> None:
    telegram.fake.state.script(77, 403)

    response = await telegram.post(telegram.fake.state.text_update(77, "你好"))

    assert response.json() == {"ok": True}
    assert telegram.fake.state.sent_to(77) == []
    assert await telegram.messages() == 2  # the message and the reply Candor tried to send


async def test_an_unreachable_bot_api_leaves_the_app_up_and_asks_for_redelivery(
    world: World,
) -> None:
    settings = world.runtime.settings.model_copy(
        update={
            "telegram_bot_token": SecretStr("123456:TEST-TOKEN"),
            "telegram_webhook_secret": SecretStr(SECRET),
            "telegram_api_base": f"http://127.0.0.1:{free_port()}",
        }
    )
    app = create_app(runtime=replace(world.runtime, settings=settings))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        health = await http.get("/healthz")
        response = await http.post(
            "/telegram/webhook", json={"update_id": 1, "message": {}}, headers=HEADERS
        )

    assert health.status_code == 200
    assert response.status_code == 503


async def test_deeply_nested_json_is_refused_and_nothing_is_processed(telegram: Telegram) -> None:
    depth = 100_000
    body = b'{"update_id": 7, "x": ' + b"[" * depth + b"]" * depth + b"}"

    response = await telegram.http.post(
        "/telegram/webhook", content=body, headers={**HEADERS, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert await telegram.messages() == 0
    assert telegram.engine.turns == []


def _without_chat(update: dict[str, Any]) -> dict[str, Any]:
    for part in ("message", "callback_query"):
        if part in update:
            message = update[part] if part == "message" else update[part]["message"]
            del message["chat"]
    return update


async def test_updates_without_a_chat_are_acknowledged_and_ignored(telegram: Telegram) -> None:
    state = telegram.fake.state
    user = {"id": 5, "is_bot": False, "first_name": "Lei"}
    membership = {
        "update_id": 99_001,
        "my_chat_member": {
            "from": user,
            "date": 1_700_000_000,
            "old_chat_member": {"status": "member", "user": user},
            "new_chat_member": {"status": "kicked", "until_date": 0, "user": user},
        },
    }
    updates = [
        _without_chat(state.text_update(4242, "在吗")),
        _without_chat(state.button_update(4242, "yes")),
        membership,
    ]

    answers = [await telegram.post(update) for update in updates]
    redelivered = await telegram.post(updates[0])

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert redelivered.json() == {"ok": True, "duplicate": True}
    assert await telegram.messages() == 0
    assert telegram.engine.turns == []


async def test_a_text_longer_than_the_web_chats_limit_is_cut_to_it(
    telegram: Telegram, world: World
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    async with world.runtime.transaction() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == "telegram-user-1")
        )
        assert identity is not None
        identity.external_user_id = "4242"

    response = await telegram.post(telegram.fake.state.text_update(4242, "长" * 300_000))

    assert response.json() == {"ok": True}
    [turn] = telegram.engine.turns
    assert turn.text == "长" * MAX_TEXT_CHARS
    async with world.runtime.sessionmaker() as session:
        stored = (await session.scalars(select(ChatMessage.text))).all()
    assert max(len(text or "") for text in stored) == MAX_TEXT_CHARS
