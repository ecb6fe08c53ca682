"""Which sender handles each channel in this process, chosen from the settings."""

from __future__ import annotations

from urllib.request import getproxies

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.configured import configured_senders
from bot.channels.http11 import Http11Transport
from bot.channels.log import LogChannel, UnconfiguredChannel
from bot.channels.webhook import WebhookChannel
from bot.channels.wechat.service import build_wechat_sender
from candor.delivery.ports import ChannelSender
from candor.hr_chat.ports import CardSender
from candor.models.enums import Channel, HrChatPlatform
from candor.settings import Environment, Settings


def build_senders(
    settings: Settings,
    redis: Redis | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> dict[Channel, ChannelSender]:
    """A webhook when configured; in development the log; otherwise nothing (Permanent), so
    a production message is never reported sent when it went nowhere."""
    if settings.delivery_webhook_url:
        connections = settings.dispatcher_concurrency * 2
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=3.0),
            limits=httpx.Limits(max_connections=connections),
            # httpx's own transport costs ~2 ms of CPU a request, the lean one a fraction; it
            # speaks plain HTTP/1.1 only, so not through a proxy (https goes to httpx's own).
            transport=None if getproxies() else Http11Transport(max_connections=connections),
        )
        return {
            channel: WebhookChannel(channel, settings.delivery_webhook_url, client=client)
            for channel in Channel
        }
    fallback = LogChannel if settings.env is Environment.DEVELOPMENT else UnconfiguredChannel
    senders: dict[Channel, ChannelSender] = {channel: fallback(channel) for channel in Channel}
    # The real channels that are configured (SMTP, Telegram) replace their fallback.
    senders.update(configured_senders(settings, redis, sessionmaker))
    # WeChat keeps its access_token and service windows in Redis, shared with the callback.
    wechat = build_wechat_sender(settings, redis) if redis is not None else None
    if wechat is not None:
        senders[Channel.WECHAT] = wechat
    return senders


def build_card_senders(settings: Settings, redis: Redis) -> dict[HrChatPlatform, CardSender]:
    """The platforms HR's approval cards go out on: those configured (candor.hr_chat)."""
    from bot.channels.telegram_hr import TelegramCards
    from bot.channels.wecom import WeComCards

    senders: dict[HrChatPlatform, CardSender] = {}
    if settings.wecom_enabled:
        senders[HrChatPlatform.WECOM] = WeComCards(settings)
    if settings.telegram_bot_token is not None:
        senders[HrChatPlatform.TELEGRAM] = TelegramCards.from_settings(settings, redis)
    return senders
