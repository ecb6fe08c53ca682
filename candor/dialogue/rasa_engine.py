"""The `rasa` engine: a real Rasa server answers over its REST channel.

The conversation id is the sender, so Rasa's tracker and our action server (which reads the
ATS data with the same settings and database) agree on who is talking. A hand-off is ours,
not Rasa's: while HR has the conversation, nothing is forwarded.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bot.gateway import Button, Reply
from candor.chat.engine import Turn
from candor.dialogue import service
from candor.logging import get_logger

log = get_logger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"


class RasaServerUnavailableError(RuntimeError):
    """The Rasa server did not answer, or answered something that is not a reply list."""


class RasaEngine:
    name = "rasa"

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=3.0))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def respond(self, session: AsyncSession, turn: Turn) -> list[Reply]:
        if await service.active_handoff(session, turn.conversation_id) is not None:
            return []
        message = turn.event_key if turn.event == "button" and turn.event_key else turn.text
        body = {
            "sender": str(turn.conversation_id),
            "message": message or "",
            "metadata": {"channel": turn.channel.value, "locale": turn.locale.value},
        }
        try:
            response = await self._client.post(f"{self.base_url}{WEBHOOK_PATH}", json=body)
        except httpx.HTTPError as exc:
            raise RasaServerUnavailableError(f"Rasa at {self.base_url}: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise RasaServerUnavailableError(
                f"Rasa at {self.base_url} answered HTTP {response.status_code}"
            )
        try:
            return replies_from_rasa(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise RasaServerUnavailableError(f"unexpected answer from Rasa: {exc}") from exc


def replies_from_rasa(body: Any) -> list[Reply]:
    """Rasa's REST channel answers a list of {"recipient_id", "text"?, "buttons"?, ...}."""
    if not isinstance(body, list):
        raise TypeError("expected a list of messages")
    replies: list[Reply] = []
    for item in body:
        text = str(item.get("text") or "")
        buttons = tuple(
            Button(str(b["title"]), str(b["payload"])) for b in item.get("buttons") or []
        )
        if text or buttons:
            replies.append(Reply(text, buttons))
    return replies
