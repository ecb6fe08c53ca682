"""Telegram through python-telegram-bot 22: the webhook's update handling, replies with
inline keyboards, the outbound `ChannelSender`, and long polling for development.

- Updates become `InboundMessage`s: `/start <token>` is the binding event, an inline button
  is a "button" event with its payload, a user blocking the bot is "unsubscribe".
- Replies and outbound messages share rate limits in Redis (1 message/s per chat, 30/s
  overall) across every process; a 429's retry_after blocks that chat for everyone and is
  returned to the dispatcher as `RetryAfter`.
- The Bot API base URL is a setting, so tests run against `candor.devtools.fake_telegram`.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from telegram import (
    Bot,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
)
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.ratelimit import RedisRateLimiter
from bot.gateway import Gateway
from candor.chat.messages import MAX_TEXT_CHARS, InboundMessage, Reply
from candor.clock import utcnow
from candor.delivery.ports import Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.hr_chat.inbound import HrChatInbox
from candor.logging import get_logger
from candor.models.enums import Channel
from candor.settings import Settings

log = get_logger(__name__)

# Opt in to python-telegram-bot's coming behaviour now: durations such as
# RetryAfter.retry_after are timedeltas (the int form warns as deprecated since v22.2).
# PTB reads the variable when such a value is accessed, so setting it here is in time.
os.environ.setdefault("PTB_TIMEDELTA", "true")

RATE_PREFIX = "candor:telegram:rate"
UPDATE_KEY = "candor:telegram:update:{}"
UPDATE_TTL_SECONDS = 24 * 3600  # Telegram gives up redelivering an update well before
MAX_CALLBACK_DATA_BYTES = 64
SHORT_BUTTON_TITLE = 12  # characters; longer titles get a row each
REPLY_MAX_WAIT = 10.0  # a reply may wait this long for its rate-limit slot
SEND_MAX_WAIT = 2.0  # an outbound message waits less: the dispatcher retries it later
NETWORK_RETRY = 5.0


def bot_base_url(settings: Settings) -> str:
    return settings.telegram_api_base.rstrip("/") + "/bot"


def rate_limiter(redis: Redis) -> RedisRateLimiter:
    return RedisRateLimiter(redis, prefix=RATE_PREFIX, per_chat_interval=1.0, per_second=30)


def inbound_from_update(update: Update) -> InboundMessage | None:
    """The channel-independent message in an update, or None for updates Candor ignores
    (groups, edits, stickers, other bots, and malformed ones without a chat: redelivering
    those would not give them one)."""
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is None or chat.type != "private":
            return None
        return InboundMessage(
            channel=Channel.TELEGRAM,
            external_user_id=str(chat.id),
            received_at=utcnow(),
            event="button",
            event_key=query.data,
            provider_message_id=f"update:{update.update_id}",
        )
    if update.my_chat_member is not None:
        return _membership(update.my_chat_member, update.update_id)
    message = update.message
    if (
        message is None
        or message.chat is None
        or message.chat.type != "private"
        or message.text is None
    ):
        return None
    # Telegram caps a text at 4,096 characters; the web chat's shorter limit applies here too,
    # and since a webhook cannot refuse a message to its sender, the rest is dropped.
    text: str | None = message.text[:MAX_TEXT_CHARS]
    event: str | None = None
    event_key: str | None = None
    command, _, argument = message.text[:MAX_TEXT_CHARS].partition(" ")
    if command.split("@")[0] == "/start":
        event, event_key, text = "start", argument.strip() or None, None
    return InboundMessage(
        channel=Channel.TELEGRAM,
        external_user_id=str(message.chat.id),
        received_at=message.date or utcnow(),
        text=text,
        event=event,
        event_key=event_key,
        provider_message_id=f"update:{update.update_id}",
    )


def _membership(change: ChatMemberUpdated, update_id: int) -> InboundMessage | None:
    if (
        change.chat is None
        or change.chat.type != "private"
        or change.new_chat_member is None
        or change.new_chat_member.status != "kicked"
    ):
        return None
    # The user blocked the bot: nothing can reach them here any more.
    return InboundMessage(
        channel=Channel.TELEGRAM,
        external_user_id=str(change.chat.id),
        received_at=change.date or utcnow(),
        event="unsubscribe",
        provider_message_id=f"update:{update_id}",
    )


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard: short ones in one row (yes/no, a 1–5 rating), long
    ones (interview times) one per row, so that each title is readable."""
    if not reply.buttons:
        return None
    for button in reply.buttons:
        if len(button.payload.encode()) > MAX_CALLBACK_DATA_BYTES:
            raise ValueError(f"button payload over {MAX_CALLBACK_DATA_BYTES} bytes")
    keys = [InlineKeyboardButton(b.title, callback_data=b.payload) for b in reply.buttons]
    if all(len(b.title) <= SHORT_BUTTON_TITLE for b in reply.buttons):
        return InlineKeyboardMarkup([keys])
    return InlineKeyboardMarkup([[key] for key in keys])


class TelegramBot:
    """The bot inside the API process: an `Application` without an updater (the webhook
    feeds it), or with one for long polling in development."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], gateway: Gateway,
                 redis: Redis, hr: HrChatInbox | None = None) -> None:  # fmt: skip
        self.application = application
        self.gateway = gateway
        self.redis = redis
        # HR users who bound this chat for approvals (candor.hr_chat) share the bot.
        self.hr = hr
        self.limiter = rate_limiter(redis)
        application.add_handler(TypeHandler(Update, self._on_update))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        gateway: Gateway,
        redis: Redis,
        *,
        polling: bool = False,
        hr: HrChatInbox | None = None,
    ) -> TelegramBot:
        assert settings.telegram_bot_token is not None
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(bot_base_url(settings))
        )
        if not polling:
            builder = builder.updater(None)
        return cls(builder.build(), gateway, redis, hr)

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()

    async def stop(self) -> None:
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def claim_update(self, update_id: int) -> bool:
        """True the first time an update id is seen (Telegram redelivers until it gets 200)."""
        claimed = await self.redis.set(
            UPDATE_KEY.format(update_id), "1", nx=True, ex=UPDATE_TTL_SECONDS
        )
        return bool(claimed)

    async def release_update(self, update_id: int) -> None:
        """Handling failed: let Telegram's redelivery be processed."""
        await self.redis.delete(UPDATE_KEY.format(update_id))

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        # Long polling delivers through the Application; the webhook calls handle() itself.
        if await self.claim_update(update.update_id):
            try:
                await self.handle(update)
            except Exception:
                await self.release_update(update.update_id)
                raise

    async def handle(self, update: Update) -> None:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()  # stops the button's spinner
            except TelegramError as exc:  # too old to answer: the press still counts
                log.info("telegram.callback_answer_failed", reason=exc.message)
        message = inbound_from_update(update)
        if message is None:
            return
        if self.hr is not None and await self._handled_as_hr(message):
            return
        replies = await self.gateway.handle(message)
        for reply in replies:
            await self.send_reply(message.external_user_id, reply)

    async def _handled_as_hr(self, message: InboundMessage) -> bool:
        """An HR user's `/start <code>`, card button (`hr:` data), and every update from a
        chat bound to an HR user: answered here. Anything else is a candidate's, for the
        conversation."""
        assert self.hr is not None
        chat = message.external_user_id
        if message.event == "button" and message.event_key:
            answer = await self.hr.click(chat, message.event_key)
        elif message.event == "start":
            answer = await self.hr.text(chat, f"/start {message.event_key or ''}".strip())
        elif message.event is None and message.text is not None:
            answer = await self.hr.text(chat, message.text)
        else:
            answer = await self.hr.other(chat)
        if answer is None:
            return False
        await self.send_reply(chat, Reply(text=answer.text))
        return True

    async def send_reply(self, chat_id: str, reply: Reply) -> None:
        for attempt in range(2):
            wait = await self.limiter.acquire(chat_id, max_wait=REPLY_MAX_WAIT)
            if wait is not None:
                log.warning("telegram.reply_delayed", wait=round(wait, 2))
                await asyncio.sleep(min(wait, REPLY_MAX_WAIT))
                continue
            try:
                await self.bot.send_message(
                    chat_id=chat_id, text=reply.text, reply_markup=reply_markup(reply)
                )
                return
            except TelegramRetryAfter as exc:
                seconds = _seconds(exc.retry_after)
                await self.limiter.block(chat_id, seconds)
                if attempt == 0 and seconds <= REPLY_MAX_WAIT:
                    await asyncio.sleep(seconds)
                    continue
                raise
            except (Forbidden, BadRequest) as exc:
                # Blocked, or the chat is gone: a redelivery would not change that.
                log.warning("telegram.reply_refused", reason=exc.message)
                return
        log.warning("telegram.reply_not_sent", reason="rate limited")


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    """The dispatcher's sender for Channel.TELEGRAM; the recipient is the chat id."""

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot, limiter: RedisRateLimiter, *, max_wait: float = SEND_MAX_WAIT):
        self.bot = bot
        self.limiter = limiter
        self.max_wait = max_wait
        self._initialized = False
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> TelegramChannel:
        assert settings.telegram_bot_token is not None
        bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=bot_base_url(settings))
        return cls(bot, rate_limiter(redis))

    async def send(self, delivery: Delivery) -> SendResult:
        chat_id = delivery.recipient
        wait = await self.limiter.acquire(chat_id, max_wait=self.max_wait)
        if wait is not None:
            return RetryAfter(wait, "rate limit (shared)")
        try:
            await self._ensure_initialized()
            sent = await self.bot.send_message(
                chat_id=chat_id,
                text=delivery.body,
                # An advance's invitation to book: a button the chat's booking action takes.
                reply_markup=reply_markup(Reply(delivery.body, delivery.buttons)),
            )
        except TelegramRetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            await self.limiter.block(chat_id, seconds)
            return RetryAfter(seconds, f"telegram 429: retry after {seconds:g}s")
        except Forbidden as exc:
            return Permanent(f"telegram refused: {exc.message}")
        except InvalidToken as exc:
            return Permanent(f"telegram bot token rejected: {exc.message}")
        except BadRequest as exc:
            return Permanent(f"telegram bad request: {exc.message}")
        except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, connection errors
            return RetryAfter(NETWORK_RETRY, f"telegram unavailable: {exc.message}")
        return Sent(f"{sent.chat_id}:{sent.message_id}")

    async def _ensure_initialized(self) -> None:
        async with self._lock:
            if not self._initialized:
                await self.bot.initialize()
                self._initialized = True

    async def aclose(self) -> None:
        if self._initialized:
            await self.bot.shutdown()
