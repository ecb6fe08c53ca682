"""The callback's failure paths, driven directly (the endpoint tests cover the rest)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from bot.channels.wechat.api import AccessTokens, WeChatApi
from bot.channels.wechat.callback import (
    MAX_CONVERSATIONS_IN_FLIGHT,
    SUCCESS,
    CallbackUnavailableError,
    GatewayFailedError,
    WeChatCallback,
)
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.envelope import SignedQuery
from bot.channels.wechat.state import WeChatState
from bot.gateway import message_recorded
from candor.chat.messages import InboundMessage, Reply
from candor.runtime import Runtime
from tests.wechat_support import (
    APP_ID,
    APP_SECRET,
    EchoGateway,
    RunningFakeWeChat,
    WeChatSigner,
    text_xml,
    wechat_settings,
)

OPENID = "o-candidate-1"


def _callback(
    runtime: Runtime,
    fake: RunningFakeWeChat,
    http: httpx.AsyncClient,
    *,
    budget: float,
    redis: Redis | None = None,
    max_in_flight: int = MAX_CONVERSATIONS_IN_FLIGHT,
    record_wait: float = 1.0,
) -> WeChatCallback:
    config = WeChatConfig.from_settings(wechat_settings(runtime.settings, fake.url, budget=budget))
    assert config is not None
    redis = redis or runtime.redis
    tokens = AccessTokens(redis, http, api_base=fake.url, app_id=APP_ID, secret=APP_SECRET)
    api = WeChatApi(http, tokens, api_base=fake.url)
    return WeChatCallback(
        config,
        WeChatState(redis, APP_ID),
        api,
        retry_delays=(0.01, 0.01),
        max_in_flight=max_in_flight,
        record_wait=record_wait,
    )


def _signed(xml: str) -> tuple[SignedQuery, bytes]:
    signed = WeChatSigner().callback(xml)
    params = dict(httpx.URL(signed.url).params)
    return (
        SignedQuery(
            signature=params["signature"], timestamp=params["timestamp"], nonce=params["nonce"]
        ),
        signed.body,
    )


async def test_when_every_try_fails_in_time_the_callback_is_unavailable_and_forgotten(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=3.0)
    gateway = EchoGateway(failures=3)

    with pytest.raises(GatewayFailedError):
        await callback.receive(*_signed(text_xml(OPENID, "x", 8001)), gateway)
    # WeChat's retry is processed: the failed message was not left claimed.
    answer = await callback.receive(*_signed(text_xml(OPENID, "x", 8001)), gateway)

    assert len(gateway.received) == 4
    assert "echo: x" in answer.body


async def test_a_late_answer_that_keeps_failing_is_dropped_logged_and_forgotten(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01)
    gateway = EchoGateway(delay=0.05, failures=3)

    answer = await callback.receive(*_signed(text_xml(OPENID, "y", 8002)), gateway)
    await callback.aclose()
    gateway.delay = 0.0
    retried = await callback.receive(*_signed(text_xml(OPENID, "y", 8002)), gateway)

    assert answer.body == SUCCESS
    assert len(gateway.received) == 4
    assert "echo: y" in retried.body
    assert fake_wechat.state.sent() == []


async def test_a_late_answer_after_one_failure_still_goes_out(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01)
    gateway = EchoGateway(delay=0.05, failures=1)

    answer = await callback.receive(*_signed(text_xml(OPENID, "z", 8003)), gateway)
    await callback.aclose()

    assert answer.body == SUCCESS
    [sent] = fake_wechat.state.sent("custom")
    assert sent["payload"]["text"]["content"] == "echo: z"


async def test_without_redis_a_callback_is_refused_not_processed(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    callback = _callback(runtime, fake_wechat, http, budget=1.0, redis=unreachable)
    gateway = EchoGateway()
    try:
        with pytest.raises(CallbackUnavailableError):
            await callback.receive(*_signed(text_xml(OPENID, "hi", 8004)), gateway)
    finally:
        await unreachable.aclose()

    assert gateway.received == []


async def test_without_redis_a_url_verification_is_refused_not_echoed(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    # Echoing without using up the nonce would leave its signature good for a message.
    unreachable = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    callback = _callback(runtime, fake_wechat, http, budget=1.0, redis=unreachable)
    query, _ = _signed("")
    try:
        with pytest.raises(CallbackUnavailableError):
            await callback.verify_url(query, "42")
    finally:
        await unreachable.aclose()


async def test_late_answers_are_bounded_by_the_window(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01)
    gateway = EchoGateway(delay=0.05)

    await callback.receive(*_signed(text_xml(OPENID, "w", 8005)), gateway)
    await WeChatState(runtime.redis, APP_ID).close_window(OPENID)  # e.g. an unfollow
    await callback.aclose()
    await asyncio.sleep(0)

    assert fake_wechat.state.sent() == []


async def test_beyond_its_conversations_in_flight_the_callback_sheds_load_unrecorded(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01, max_in_flight=1)
    gateway = EchoGateway(delay=0.2)

    first = await callback.receive(*_signed(text_xml(OPENID, "a", 8101)), gateway)
    with pytest.raises(CallbackUnavailableError):
        await callback.receive(*_signed(text_xml(OPENID, "b", 8102)), gateway)
    await callback.aclose()
    later = await callback.receive(*_signed(text_xml(OPENID, "b", 8102)), gateway)
    await callback.aclose()

    assert first.body == SUCCESS  # late: it will go out as a customer-service message
    assert [m.text for m in gateway.received] == ["a", "b"]
    assert later.body == SUCCESS


class SlowGateway:
    """Commits the message after `record_after` seconds, answers after `answer_after`."""

    def __init__(self, *, record_after: float, answer_after: float) -> None:
        self.record_after, self.answer_after = record_after, answer_after
        self.recorded_at: float | None = None

    async def handle(self, message: InboundMessage) -> list[Reply]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.record_after)
        self.recorded_at = loop.time()
        message_recorded()
        await asyncio.sleep(self.answer_after - self.record_after)
        return [Reply(f"echo: {message.text}")]


async def test_a_late_success_waits_for_the_message_to_be_committed_not_for_the_answer(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01)
    gateway = SlowGateway(record_after=0.2, answer_after=0.6)
    loop = asyncio.get_running_loop()

    answer = await callback.receive(*_signed(text_xml(OPENID, "v", 8201)), gateway)
    acknowledged_at = loop.time()

    assert answer.body == SUCCESS
    assert gateway.recorded_at is not None
    assert gateway.recorded_at <= acknowledged_at
    assert not fake_wechat.state.sent()  # the answer was not ready yet ...
    await callback.aclose()
    [sent] = fake_wechat.state.sent("custom")  # ... and went out late
    assert sent["payload"]["text"]["content"] == "echo: v"


async def test_a_message_not_committed_in_time_is_not_acknowledged_and_its_retry_is_processed(
    runtime: Runtime, fake_wechat: RunningFakeWeChat, http: httpx.AsyncClient
) -> None:
    callback = _callback(runtime, fake_wechat, http, budget=0.01, record_wait=0.05)
    stuck = EchoGateway(delay=0.3, records=False)

    with pytest.raises(CallbackUnavailableError):
        await callback.receive(*_signed(text_xml(OPENID, "u", 8202)), stuck)
    # Not acknowledged, so not claimed: WeChat's retry is processed, not told `success`.
    retried = await callback.receive(*_signed(text_xml(OPENID, "u", 8202)), EchoGateway())
    await callback.aclose()

    assert "echo: u" in retried.body
    assert [m.text for m in stuck.received] == ["u"]
