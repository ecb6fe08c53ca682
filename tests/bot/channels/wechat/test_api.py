"""The access_token has one owner across processes; the API client refreshes it once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.channels.wechat.api import AccessTokens, WeChatApi, WeChatApiError
from candor.runtime import Runtime
from tests.wechat_support import APP_ID, APP_SECRET, RunningFakeWeChat


def _tokens(runtime: Runtime, http: httpx.AsyncClient, fake: RunningFakeWeChat) -> AccessTokens:
    """One per "process": they share nothing but Redis."""
    return AccessTokens(runtime.redis, http, api_base=fake.url, app_id=APP_ID, secret=APP_SECRET)


async def test_concurrent_processes_fetch_the_token_once(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    processes = [_tokens(runtime, http, fake_wechat) for _ in range(5)]

    tokens = await asyncio.gather(*(p.get() for p in processes for _ in range(4)))

    assert set(tokens) == {fake_wechat.state.token}
    assert fake_wechat.state.token_fetches == 1


async def test_a_rejected_token_is_refreshed_once_however_many_callers_saw_it(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    processes = [_tokens(runtime, http, fake_wechat) for _ in range(3)]
    stale = await processes[0].get()

    fresh = await asyncio.gather(*(p.refresh(stale) for p in processes))

    assert len(set(fresh)) == 1
    assert fresh[0] != stale
    assert fake_wechat.state.forced_refreshes == 1


async def test_a_call_refused_for_its_token_refreshes_and_retries_once(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    tokens = _tokens(runtime, http, fake_wechat)
    api = WeChatApi(http, tokens, api_base=fake_wechat.url)
    await tokens.get()
    await http.post(f"{fake_wechat.url}/_control/revoke_token")

    await api.send_custom_text("o1", "你好")

    assert [c["errcode"] for c in fake_wechat.state.calls] == [40001, 0]
    assert fake_wechat.state.forced_refreshes == 1


async def test_utf8_is_sent_unescaped(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    api = WeChatApi(http, _tokens(runtime, http, fake_wechat), api_base=fake_wechat.url)

    await api.send_custom_text("o1", "你好")

    assert "你好" in fake_wechat.state.calls[0]["raw"]


async def test_an_errcode_is_raised_with_its_code(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    api = WeChatApi(http, _tokens(runtime, http, fake_wechat), api_base=fake_wechat.url)
    fake_wechat.state.scripts[("template", "o1")] = [43004]

    with pytest.raises(WeChatApiError) as info:
        await api.send_template("o1", "TPL", {"first": "x"})

    assert info.value.errcode == 43004


async def test_wrong_credentials_are_reported(
    runtime: Runtime, http: httpx.AsyncClient, fake_wechat: RunningFakeWeChat
) -> None:
    tokens = AccessTokens(
        runtime.redis, http, api_base=fake_wechat.url, app_id=APP_ID, secret="wrong"
    )

    with pytest.raises(WeChatApiError) as info:
        await tokens.get()

    assert info.value.errcode == 40125
