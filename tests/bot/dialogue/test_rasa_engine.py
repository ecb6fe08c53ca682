from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.conversation import ConversationGateway
from bot.dialogue.rasa_engine import RasaEngine, RasaServerUnavailableError, replies_from_rasa
from candor.chat.messages import Button, Reply
from candor.clock import utcnow
from candor.dialogue import service
from candor.models import Conversation
from candor.models.enums import Channel
from tests.dialogue_world import Chat
from tests.fake_rasa_server import RunningFakeRasa, running_fake_rasa
from tests.fakes import free_port
from tests.outreach_world import World


@pytest.fixture
async def rasa() -> AsyncIterator[RunningFakeRasa]:
    async with running_fake_rasa() as running:
        yield running


async def rasa_chat(world: World, url: str) -> tuple[Chat, RasaEngine]:
    await world.applicant(1, bind=[Channel.WEB])
    engine = RasaEngine(url)
    return Chat(world, ConversationGateway(world.runtime, engine=engine), "web-user-1"), engine


async def test_messages_go_to_rasa_with_the_conversation_as_sender(
    world: World, rasa: RunningFakeRasa
) -> None:
    chat, engine = await rasa_chat(world, rasa.url)
    rasa.state.answer = [
        {
            "text": "撤回后无法恢复，确定要撤回申请吗？",
            "buttons": [{"title": "确定", "payload": "/affirm"}],
        }
    ]
    try:
        replies = await chat.say("我想撤回申请")
        pressed = await chat.press("/affirm")
    finally:
        await engine.aclose()
    conversation_id = str(await chat.conversation_id())
    assert [(m["sender"], m["message"]) for m in rasa.state.received] == [
        (conversation_id, "我想撤回申请"),
        (conversation_id, "/affirm"),
    ]
    assert replies == [Reply("撤回后无法恢复，确定要撤回申请吗？", (Button("确定", "/affirm"),))]
    assert pressed == replies


async def test_nothing_is_forwarded_while_hr_has_the_conversation(
    world: World, rasa: RunningFakeRasa
) -> None:
    chat, engine = await rasa_chat(world, rasa.url)
    await chat.say("你好")
    async with world.runtime.transaction() as session:
        conversation = await session.get_one(Conversation, await chat.conversation_id())
        await service.open_handoff(session, conversation, reason="asked", now=utcnow())
    try:
        assert await chat.say("还在吗") == []
    finally:
        await engine.aclose()
    assert len(rasa.state.received) == 1


async def test_an_unreachable_or_failing_rasa_is_an_error_not_a_silent_answer(
    world: World, rasa: RunningFakeRasa
) -> None:
    chat, engine = await rasa_chat(world, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RasaServerUnavailableError):
            await chat.say("你好")
    finally:
        await engine.aclose()
    rasa.state.status = 500
    failing = RasaEngine(rasa.url)
    chat.gateway = ConversationGateway(world.runtime, engine=failing)
    try:
        with pytest.raises(RasaServerUnavailableError):
            await chat.say("你好")
    finally:
        await failing.aclose()


def test_rasa_answers_become_replies() -> None:
    body = [
        {"recipient_id": "1", "text": "a"},
        {"recipient_id": "1", "image": "http://x/y.png"},  # nothing we can show: dropped
        {"recipient_id": "1", "text": "b", "buttons": [{"title": "t", "payload": "/p"}]},
    ]
    assert replies_from_rasa(body) == [Reply("a"), Reply("b", (Button("t", "/p"),))]
    with pytest.raises(TypeError):
        replies_from_rasa({"text": "not a list"})


async def test_what_rasa_understood_is_counted_and_its_fallback_too(
    world: World, rasa: RunningFakeRasa
) -> None:
    from candor.metrics import metrics

    def counted(name: str, **labels: str) -> float:
        return metrics().registry.get_sample_value(name, labels) or 0.0

    before = (
        counted("candor_nlu_predictions_total", engine="rasa", intent="greet"),
        counted("candor_nlu_predictions_total", engine="rasa", intent="nlu_fallback"),
        counted("candor_nlu_fallbacks_total", engine="rasa"),
    )
    chat, engine = await rasa_chat(world, rasa.url)
    rasa.state.answer = [{"text": "您好"}]
    try:
        rasa.state.intent = "greet"
        await chat.say("你好")
        await engine.counted()  # read in the background: before the tracker changes
        rasa.state.intent = "nlu_fallback"
        await chat.say("qzxv wplk")
        await engine.counted()
        rasa.state.intent = None  # a tracker without a latest message: nothing to count
        assert await chat.say("嗯") == [Reply("您好")]
    finally:
        await engine.aclose()
    after = (
        counted("candor_nlu_predictions_total", engine="rasa", intent="greet"),
        counted("candor_nlu_predictions_total", engine="rasa", intent="nlu_fallback"),
        counted("candor_nlu_fallbacks_total", engine="rasa"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


async def test_the_reply_does_not_wait_for_the_count(world: World, rasa: RunningFakeRasa) -> None:
    """Reading what Rasa understood is for the metrics: a slow tracker must not hold the
    candidate's reply, and the count still arrives once the tracker answers."""
    import asyncio

    from candor.metrics import metrics

    def greets() -> float:
        labels = {"engine": "rasa", "intent": "greet"}
        return metrics().registry.get_sample_value("candor_nlu_predictions_total", labels) or 0.0

    before = greets()
    chat, engine = await rasa_chat(world, rasa.url)
    rasa.state.answer = [{"text": "您好"}]
    rasa.state.intent = "greet"
    released = rasa.state.tracker_released = asyncio.Event()
    try:
        # The tracker answers only after the reply is back: a count on the reply's path
        # would time out and be lost.
        assert await chat.say("你好") == [Reply("您好")]
        assert greets() == before
        released.set()
    finally:
        await engine.aclose()  # waits for the pending count
    assert greets() == before + 1
