"""The dialogue engine seam: what the gateway asks once a bound candidate says something that
is not a channel command (binding, opt-out, preferences).

The engines in `bot.dialogue` (embedded NLU + actions, or Rasa over HTTP) implement
`DialogueEngine`. `PlaceholderEngine`, for a gateway built without one, answers honestly that
the message was received and HR will follow up; it never guesses at a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat.messages import Reply
from candor.chat.texts import text
from candor.models.enums import Channel, Locale


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a bound candidate, as the engine sees it."""

    conversation_id: int
    inbound_message_id: int
    chat_identity_id: int
    candidate_id: int
    channel: Channel
    locale: Locale
    received_at: datetime
    text: str | None
    event: str | None = None  # "button" for an inline-keyboard answer
    event_key: str | None = None  # the button's payload


class DialogueEngine(Protocol):
    @property
    def name(self) -> str:
        """Recorded as the author of its replies in the transcript ("engine:<name>")."""
        ...

    async def respond(self, session: AsyncSession, turn: Turn) -> list[Reply]:
        """Answer the turn. `session` is a transaction the gateway commits afterwards; read
        only the turn's candidate's data with it."""
        ...


class PlaceholderEngine:
    """Stands in when no engine is configured: acknowledges, and promises only what is true
    (HR reads the transcript)."""

    name = "placeholder"

    async def respond(self, session: AsyncSession, turn: Turn) -> list[Reply]:
        return [Reply(text("received", turn.locale))]
