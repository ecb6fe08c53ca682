"""A button answered in words. Channels without real buttons (WeChat's text links, a
candidate typing instead of tapping) send back the button's title, or its number in the
list; the turn is then the button's payload, as a tap on Telegram or web chat would be.
Payloads carry what words cannot (which slot, which booking), so both engines need this."""

from __future__ import annotations

import dataclasses
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat.engine import Turn
from candor.models import ChatMessage
from candor.models.chat import Direction

_NUMBER_MARKS = " .、。)）"
# What a WeChat menu link cannot carry is left out of the title it sends back.
_LINK_UNSAFE = str.maketrans("", "", '"<>&?=#')


def _normalised(text: str) -> str:
    plain = unicodedata.normalize("NFKC", text).translate(_LINK_UNSAFE)
    return " ".join(plain.split()).casefold()


def answered_payload(buttons: list[tuple[str, str]], text: str) -> str | None:
    """The payload of the button `text` names by title or by number (1, 2, ...)."""
    said = _normalised(text)
    if not said:
        return None
    for title, payload in buttons:
        if _normalised(title) == said:
            return payload
    number = said.strip(_NUMBER_MARKS)
    if number.isdigit() and 1 <= int(number) <= len(buttons):
        return buttons[int(number) - 1][1]
    return None


async def as_button_press(session: AsyncSession, turn: Turn) -> Turn:
    """The turn as the press of a button of the bot's last message, when it names one."""
    if turn.event == "button" or not turn.text or len(turn.text) > 200:
        return turn
    payload = await session.scalar(
        select(ChatMessage.payload)
        .where(
            ChatMessage.conversation_id == turn.conversation_id,
            ChatMessage.direction == Direction.OUTBOUND,
            ChatMessage.id < turn.inbound_message_id,
        )
        # The (conversation_id, at) index serves this, however long the conversation.
        .order_by(ChatMessage.at.desc(), ChatMessage.id.desc())
        .limit(1)
    )
    buttons = [
        (str(pair[0]), str(pair[1]))
        for pair in (payload or {}).get("buttons") or []
        if isinstance(pair, list) and len(pair) == 2
    ]
    pressed = answered_payload(buttons, turn.text) if buttons else None
    if pressed is None:
        return turn
    return dataclasses.replace(turn, event="button", event_key=pressed)
