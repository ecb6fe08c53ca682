"""Which sender handles each channel in this process, chosen from the settings."""

from __future__ import annotations

from urllib.request import getproxies

import httpx

from bot.channels.base import ChannelSender
from bot.channels.http11 import Http11Transport
from bot.channels.log import LogChannel, UnconfiguredChannel
from bot.channels.webhook import WebhookChannel
from candor.models.enums import Channel
from candor.settings import Environment, Settings


def build_senders(settings: Settings) -> dict[Channel, ChannelSender]:
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
    if settings.env is Environment.DEVELOPMENT:
        return {channel: LogChannel(channel) for channel in Channel}
    return {channel: UnconfiguredChannel(channel) for channel in Channel}


async def close_senders(senders: dict[Channel, ChannelSender]) -> None:
    closed: set[int] = set()
    for sender in senders.values():
        if id(sender) not in closed:
            await sender.aclose()
            closed.add(id(sender))
