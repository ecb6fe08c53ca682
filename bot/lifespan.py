"""The chat side's part of the API process's lifespan: the default gateway, and the
Telegram bot (initialized, started and stopped with the app) when a token is configured."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from telegram.error import TelegramError

from bot.channels.telegram import TelegramBot
from bot.conversation import ConversationGateway
from bot.dialogue.factory import build_engine
from bot.gateway import Gateway
from candor.hr_chat.inbound import HrChatInbox
from candor.logging import get_logger
from candor.models.enums import HrChatPlatform
from candor.runtime import Runtime

log = get_logger(__name__)


def default_gateway(runtime: Runtime) -> ConversationGateway:
    """The conversation gateway with the engine `CANDOR_DIALOGUE_ENGINE` names."""
    return ConversationGateway(runtime, engine=build_engine(runtime))


@dataclass
class ChatChannels:
    telegram: TelegramBot | None = None
    # Why a configured Telegram bot did not start (the Bot API was unreachable): the API
    # serves everything else, and the webhook answers 503 so Telegram redelivers later.
    telegram_unavailable: str | None = None

    @classmethod
    async def start(cls, runtime: Runtime, gateway: Gateway | None) -> ChatChannels:
        settings = runtime.settings
        if gateway is None or settings.telegram_bot_token is None:
            return cls()
        telegram = TelegramBot.from_settings(
            settings,
            gateway,
            runtime.redis,
            hr=HrChatInbox(runtime, HrChatPlatform.TELEGRAM),
        )
        try:
            await telegram.start()
        except TelegramError as exc:
            log.error("telegram.start_failed", error=type(exc).__name__, detail=exc.message)
            with contextlib.suppress(Exception):  # free what initialize() opened
                await telegram.application.shutdown()
            return cls(telegram_unavailable=exc.message)
        log.info("telegram.started", username=telegram.bot.username)
        return cls(telegram=telegram)

    async def aclose(self) -> None:
        if self.telegram is not None:
            await self.telegram.stop()
