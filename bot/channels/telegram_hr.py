"""Approval cards for HR users in Telegram: a message with an inline keyboard (approve and
reject as `hr:` callback data, open as a URL button), edited in place once decided."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.error import RetryAfter as TelegramRetryAfter

from bot.channels.ratelimit import RedisRateLimiter
from bot.channels.telegram import NETWORK_RETRY, SEND_MAX_WAIT, _seconds, bot_base_url, rate_limiter
from candor.delivery.ports import Permanent, RetryAfter, SendResult, Sent
from candor.hr_chat.inbound import callback_data
from candor.hr_chat.ports import Card
from candor.models.enums import HrChatPlatform
from candor.settings import Settings


def card_text(card: Card) -> str:
    lines = [card.title]
    if card.status:
        lines.append(f"✔ {card.status}")
    lines += [f"{label}: {value}" for label, value in card.fields]
    if card.description:
        lines += ["", card.description]
    return "\n".join(lines)


def card_keyboard(card: Card) -> InlineKeyboardMarkup:
    rows = []
    if card.buttons:
        rows.append(
            [
                InlineKeyboardButton(label, callback_data=callback_data(action, card.token))
                for action, label in card.buttons
            ]
        )
    rows.append([InlineKeyboardButton(card.open_label, url=card.url)])
    return InlineKeyboardMarkup(rows)


class TelegramCards:
    """The `CardSender` for Telegram, on the candidate bot's token and rate limits."""

    platform = HrChatPlatform.TELEGRAM

    def __init__(self, bot: Bot, limiter: RedisRateLimiter) -> None:
        self.bot = bot
        self.limiter = limiter
        self._initialized = False

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> TelegramCards:
        if settings.telegram_bot_token is None:
            raise ValueError("Telegram cards need the bot token")
        bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=bot_base_url(settings))
        return cls(bot, rate_limiter(redis))

    async def send_card(self, to: str, card: Card) -> SendResult:
        async def send() -> str:
            sent = await self.bot.send_message(
                chat_id=to, text=card_text(card), reply_markup=card_keyboard(card)
            )
            return f"{sent.chat_id}:{sent.message_id}"

        return await self._call(to, send)

    async def update_card(self, to: str, ref: str, card: Card) -> SendResult:
        chat_id, _, message_id = ref.partition(":")
        if not message_id.isdigit():
            return Permanent("no message to edit")

        async def edit() -> str:
            await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=int(message_id),
                text=card_text(card),
                reply_markup=card_keyboard(card),
            )
            return ref

        return await self._call(to, edit)

    async def _call(self, chat_id: str, call: Callable[[], Awaitable[str]]) -> SendResult:
        wait = await self.limiter.acquire(chat_id, max_wait=SEND_MAX_WAIT)
        if wait is not None:
            return RetryAfter(wait, "rate limit (shared)")
        try:
            if not self._initialized:
                await self.bot.initialize()
                self._initialized = True
            ref = await call()
        except TelegramRetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            await self.limiter.block(chat_id, seconds)
            return RetryAfter(seconds, f"telegram 429: retry after {seconds:g}s")
        except (Forbidden, InvalidToken, BadRequest) as exc:
            return Permanent(f"telegram refused: {exc.message}")
        except TelegramError as exc:
            return RetryAfter(NETWORK_RETRY, f"telegram unavailable: {exc.message}")
        return Sent(str(ref))

    async def aclose(self) -> None:
        if self._initialized:
            await self.bot.shutdown()
