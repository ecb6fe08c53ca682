"""Building the WeChat channel from the settings: one per process, closed with it."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from bot.channels.wechat.api import AccessTokens, WeChatApi
from bot.channels.wechat.callback import WeChatCallback
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.sender import WeChatChannel
from bot.channels.wechat.state import WeChatState
from candor.settings import Settings


def _http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0), limits=httpx.Limits(max_connections=64)
    )


def _api(config: WeChatConfig, redis: Redis, http: httpx.AsyncClient) -> WeChatApi:
    tokens = AccessTokens(
        redis, http, api_base=config.api_base, app_id=config.app_id, secret=config.app_secret
    )
    return WeChatApi(http, tokens, api_base=config.api_base)


@dataclass(frozen=True, slots=True)
class WeChatEndpoint:
    """What the API process needs: the callback and the state it shares with senders."""

    config: WeChatConfig
    state: WeChatState
    api: WeChatApi
    callback: WeChatCallback
    http: httpx.AsyncClient
    secret: str  # signs one-time subscription prompts (CANDOR_SECRET_KEY)

    async def aclose(self) -> None:
        await self.callback.aclose()
        await self.http.aclose()


def build_wechat_endpoint(settings: Settings, redis: Redis) -> WeChatEndpoint | None:
    """None when WeChat is not configured; `WeChatConfigError` when it is, wrongly."""
    config = WeChatConfig.from_settings(settings)
    if config is None:
        return None
    http = _http_client()
    state = WeChatState(redis, config.app_id)
    api = _api(config, redis, http)
    callback = WeChatCallback(config, state, api)
    return WeChatEndpoint(
        config, state, api, callback, http, secret=settings.secret_key.get_secret_value()
    )


def build_wechat_sender(settings: Settings, redis: Redis) -> WeChatChannel | None:
    config = WeChatConfig.from_settings(settings)
    if config is None:
        return None
    http = _http_client()
    return WeChatChannel(_api(config, redis, http), WeChatState(redis, config.app_id), http)
