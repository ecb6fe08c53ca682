"""The real chat channels this process can send through, chosen from the settings."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.email import EmailChannel
from bot.channels.sms.channel import SmsChannel, sms_configured
from bot.channels.telegram import TelegramChannel
from bot.channels.webchat import WebChatChannel
from candor.delivery.ports import ChannelSender
from candor.mail import SmtpMailer
from candor.models.enums import Channel
from candor.settings import Settings


def configured_senders(
    settings: Settings,
    redis: Redis | None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> dict[Channel, ChannelSender]:
    """E-mail when SMTP is configured; Telegram when a bot token is set and SMS when a
    provider is (their rate limits live in Redis, shared by every process); the web chat when
    the database is at hand."""
    senders: dict[Channel, ChannelSender] = {}
    if sessionmaker is not None:
        senders[Channel.WEB] = WebChatChannel(sessionmaker)
    if settings.smtp_host:
        senders[Channel.EMAIL] = EmailChannel(SmtpMailer.from_settings(settings))
    if settings.telegram_bot_token is not None and redis is not None:
        senders[Channel.TELEGRAM] = TelegramChannel.from_settings(settings, redis)
    if sms_configured(settings) and redis is not None:
        # Its per-number limits live in Redis too.
        senders[Channel.SMS] = SmsChannel.from_settings(settings, redis)
    return senders
