"""The `rasa` engine: a real Rasa server answers over its REST channel.

The conversation id is the sender, so Rasa's tracker and our action server (which reads the
ATS data with the same settings and database) agree on who is talking. A hand-off is ours,
not Rasa's: while HR has the conversation, nothing is forwarded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from candor import metrics
from candor.chat.engine import Turn
from candor.chat.language import message_language, slot_language
from candor.chat.messages import Button, Reply
from candor.dialogue import service
from candor.logging import get_logger

log = get_logger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier's intent
PREDICTION_READ_TIMEOUT = 2.0


class RasaServerUnavailableError(RuntimeError):
    """The Rasa server did not answer, or answered something that is not a reply list."""


class RasaEngine:
    name = "rasa"

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=3.0))
        # The counts still reading the tracker: referenced here, or the loop could collect
        # them mid-flight.
        self._counting: set[asyncio.Task[None]] = set()

    async def counted(self) -> None:
        """Wait for the counts of the turns answered so far (each bounded by its timeout)."""
        if self._counting:
            _, pending = await asyncio.wait(
                set(self._counting), timeout=PREDICTION_READ_TIMEOUT + 1.0
            )
            for task in pending:
                task.cancel()

    async def aclose(self) -> None:
        await self.counted()
        await self._client.aclose()

    async def respond(self, session: AsyncSession, turn: Turn) -> list[Reply]:
        if await service.active_handoff(session, turn.conversation_id) is not None:
            return []
        button = turn.event == "button" and turn.event_key
        message = turn.event_key if button else turn.text
        sender = str(turn.conversation_id)
        language = None if button else message_language(turn.text)
        body = {
            "sender": sender,
            "message": message or "",
            "metadata": {"channel": turn.channel.value, "locale": (language or turn.locale).value},
        }
        try:
            if language is not None:
                # Answer in the language of the message: Rasa's responses and our actions
                # read the `language` slot, which Rasa itself never fills.
                await self._post_checked(
                    f"/conversations/{sender}/tracker/events?include_events=NONE",
                    [{"event": "slot", "name": "language", "value": slot_language(language)}],
                )
            response = await self._client.post(f"{self.base_url}{WEBHOOK_PATH}", json=body)
        except httpx.HTTPError as exc:
            raise RasaServerUnavailableError(f"Rasa at {self.base_url}: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise RasaServerUnavailableError(
                f"Rasa at {self.base_url} answered HTTP {response.status_code}"
            )
        try:
            replies = replies_from_rasa(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise RasaServerUnavailableError(f"unexpected answer from Rasa: {exc}") from exc
        # Off the reply's path: the candidate does not wait for a metric.
        task = asyncio.create_task(self._count_prediction(sender))
        self._counting.add(task)
        task.add_done_callback(self._counting.discard)
        return replies

    async def _count_prediction(self, sender: str) -> None:
        """Rasa's REST channel answers with replies only: what it understood is read from the
        tracker's latest message, in the background after the reply. For the metrics alone,
        so a failure loses a count, never the turn (a read that is late past the next turn
        of the same conversation may count that turn's intent instead)."""
        try:
            response = await self._client.get(
                f"{self.base_url}/conversations/{sender}/tracker",
                params={"include_events": "NONE"},
                timeout=PREDICTION_READ_TIMEOUT,
            )
            response.raise_for_status()
            latest = response.json().get("latest_message") or {}
            intent = (latest.get("intent") or {}).get("name")
        except Exception as exc:  # nothing may escape a background task unseen
            log.warning("dialogue.rasa_prediction_unread", error=repr(exc))
            return
        if isinstance(intent, str):
            metrics.nlu_prediction(self.name, intent, fallback=intent == FALLBACK_INTENT)

    async def _post_checked(self, path: str, body: Any) -> None:
        response = await self._client.post(f"{self.base_url}{path}", json=body)
        if response.status_code != httpx.codes.OK:
            raise RasaServerUnavailableError(
                f"Rasa at {self.base_url} answered HTTP {response.status_code} to {path}"
            )


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
