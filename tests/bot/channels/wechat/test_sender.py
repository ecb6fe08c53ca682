"""The dispatcher's WeChat channel against the fake WeChat API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from bot.channels.registry import build_senders
from bot.channels.wechat.sender import WeChatChannel
from bot.channels.wechat.service import build_wechat_sender
from bot.channels.wechat.state import (
    CUSTOMER_SERVICE_MESSAGES_PER_WINDOW,
    SubscriptionGrant,
    WeChatState,
)
from candor.delivery.ports import Delivery, Permanent, RetryAfter, Sent, close_senders
from candor.models.enums import Channel
from candor.runtime import Runtime
from candor.settings import Settings
from tests.conftest import TEST_SECRET
from tests.wechat_support import APP_ID, RunningFakeWeChat, wechat_settings

OPENID = "o-candidate-1"


@pytest.fixture
async def channel(runtime: Runtime, fake_wechat: RunningFakeWeChat) -> AsyncIterator[WeChatChannel]:
    sender = build_wechat_sender(wechat_settings(runtime.settings, fake_wechat.url), runtime.redis)
    assert sender is not None
    yield sender
    await sender.aclose()


@pytest.fixture
def state(runtime: Runtime) -> WeChatState:
    return WeChatState(runtime.redis, APP_ID)


def _delivery(*, template: str | None = "TPL-RESULT") -> Delivery:
    return Delivery(
        idempotency_key="1:1:wechat",
        channel=Channel.WECHAT,
        recipient=OPENID,
        subject="面试结果",
        body="您好，感谢参加面试。",
        locale="zh-CN",
        wechat_data={"first": "您好", "keyword1": "后端工程师"},
        wechat_template_id=template,
    )


async def test_inside_the_window_a_customer_service_text_goes_and_is_counted(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.open_window(OPENID, at=int(time.time()))

    result = await channel.send(_delivery())

    assert result == Sent(None)
    [call] = fake_wechat.state.sent()
    assert call["kind"] == "custom"
    assert call["payload"]["text"]["content"] == "您好，感谢参加面试。"
    window = await state.window(OPENID)
    assert window is not None
    assert window.sent == 1


async def test_outside_the_window_a_template_message_goes(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat
) -> None:
    result = await channel.send(_delivery())

    [call] = fake_wechat.state.sent()
    assert call["kind"] == "template"
    assert result == Sent(str(call["msgid"]))
    assert call["payload"]["template_id"] == "TPL-RESULT"
    assert call["payload"]["data"]["keyword1"] == {"value": "后端工程师"}


async def test_a_template_message_opens_the_booking_link_an_advance_carries(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat
) -> None:
    link = "https://jobs.example.cn/b/tok"
    await channel.send(dataclasses.replace(_delivery(), link=link))
    await channel.send(_delivery())

    with_link, without = fake_wechat.state.sent()
    assert with_link["payload"]["url"] == link
    assert "url" not in without["payload"]


async def test_a_window_wechat_says_is_closed_falls_back_to_the_template(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.open_window(OPENID, at=int(time.time()))
    fake_wechat.state.scripts[("custom", OPENID)] = [45015]

    result = await channel.send(_delivery())

    assert isinstance(result, Sent)
    assert [(c["kind"], c["errcode"]) for c in fake_wechat.state.calls] == [
        ("custom", 45015),
        ("template", 0),
    ]
    assert await state.window(OPENID) is None  # closed: the next send goes straight on


async def test_a_used_up_window_is_not_tried(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.open_window(OPENID, at=int(time.time()))
    for _ in range(CUSTOMER_SERVICE_MESSAGES_PER_WINDOW):
        assert await state.take_window_slot(OPENID)

    await channel.send(_delivery())

    assert [c["kind"] for c in fake_wechat.state.calls] == ["template"]


async def test_quota_refusal_falls_back_and_gives_the_slot_back(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.open_window(OPENID, at=int(time.time()))
    fake_wechat.state.scripts[("custom", OPENID)] = [45047]

    assert isinstance(await channel.send(_delivery()), Sent)
    assert [c["kind"] for c in fake_wechat.state.sent()] == ["template"]


async def test_not_following_is_permanent(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat
) -> None:
    fake_wechat.state.scripts[("template", OPENID)] = [43004]

    result = await channel.send(_delivery())

    assert isinstance(result, Permanent)
    assert "43004" in result.reason


@pytest.mark.parametrize(("errcode", "at_least"), [(-1, 1.0), (45009, 600.0)])
async def test_busy_and_quota_errors_are_retried_later(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat, errcode: int, at_least: float
) -> None:
    fake_wechat.state.scripts[("template", OPENID)] = [errcode]

    result = await channel.send(_delivery())

    assert isinstance(result, RetryAfter)
    assert result.seconds >= at_least


async def test_a_busy_window_send_is_retried_and_its_slot_returned(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.open_window(OPENID, at=int(time.time()))
    fake_wechat.state.scripts[("custom", OPENID)] = [-1]

    result = await channel.send(_delivery())

    assert isinstance(result, RetryAfter)
    window = await state.window(OPENID)
    assert window is not None
    assert window.sent == 0


async def test_a_revoked_token_is_refreshed_once_and_the_message_still_goes(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat
) -> None:
    assert isinstance(await channel.send(_delivery()), Sent)
    async with httpx.AsyncClient() as http:
        await http.post(f"{fake_wechat.url}/_control/revoke_token")

    assert isinstance(await channel.send(_delivery()), Sent)
    assert [c["errcode"] for c in fake_wechat.state.calls] == [0, 40001, 0]


async def test_a_subscription_grant_is_used_once_when_nothing_else_is_allowed(
    channel: WeChatChannel, state: WeChatState, fake_wechat: RunningFakeWeChat
) -> None:
    await state.add_subscription_grant(OPENID, SubscriptionGrant("SUB-TPL", scene=7))

    first = await channel.send(_delivery(template=None))
    second = await channel.send(_delivery(template=None))

    assert isinstance(first, Sent)
    [call] = fake_wechat.state.sent()
    assert call["kind"] == "subscribe"
    assert call["payload"]["template_id"] == "SUB-TPL"
    assert call["payload"]["scene"] == "7"
    assert call["payload"]["data"]["content"]["value"] == "您好，感谢参加面试。"
    assert isinstance(second, Permanent)


async def test_without_window_template_or_grant_the_channel_is_not_an_option(
    channel: WeChatChannel, fake_wechat: RunningFakeWeChat
) -> None:
    result = await channel.send(_delivery(template=None))

    assert isinstance(result, Permanent)
    assert fake_wechat.state.calls == []


async def test_an_unreachable_api_is_retried_later(runtime: Runtime) -> None:
    sender = build_wechat_sender(
        wechat_settings(runtime.settings, "http://127.0.0.1:9"), runtime.redis
    )
    assert sender is not None
    try:
        result = await sender.send(_delivery())
    finally:
        await sender.aclose()

    assert isinstance(result, RetryAfter)


async def test_build_senders_registers_wechat_when_configured(
    runtime: Runtime, fake_wechat: RunningFakeWeChat
) -> None:
    senders = build_senders(wechat_settings(runtime.settings, fake_wechat.url), runtime.redis)
    try:
        assert isinstance(senders[Channel.WECHAT], WeChatChannel)
    finally:
        await close_senders(senders)

    unconfigured = build_senders(runtime.settings, runtime.redis)
    try:
        assert not isinstance(unconfigured[Channel.WECHAT], WeChatChannel)
    finally:
        await close_senders(unconfigured)


async def test_without_redis_the_send_is_retried_later(fake_wechat: RunningFakeWeChat) -> None:
    settings = wechat_settings(Settings(env="test", secret_key=TEST_SECRET), fake_wechat.url)
    unreachable = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    sender = build_wechat_sender(settings, unreachable)
    assert sender is not None
    try:
        result = await sender.send(_delivery())
    finally:
        await sender.aclose()
        await unreachable.aclose()

    assert isinstance(result, RetryAfter)
    assert fake_wechat.state.calls == []
