"""The real `Gateway`: channel adapters hand it `InboundMessage`s and render its `Reply`s.

A message is handled in up to two short transactions, so nothing waits on a slow engine
while holding the database's write lock, and nothing is sent before its commit:
1. identity, transcript, binding, opt-out and preferences (`candor.chat.service.receive`);
   once it has committed the message is durable, which the gateway says through
   `bot.gateway.message_recorded()` (the WeChat callback acknowledges a late answer then);
2. if the candidate is bound and said something else, the dialogue engine's answer and its
   transcript rows.
A one-time binding code is queued with the transaction that stores its hash, and the
delivery loop e-mails it once that has committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from redis.exceptions import LockError

from bot.gateway import message_recorded
from candor.chat import transcript
from candor.chat.buttons import as_button_press
from candor.chat.engine import DialogueEngine, PlaceholderEngine
from candor.chat.messages import InboundMessage, Reply
from candor.chat.privacy_notice import load_notice
from candor.chat.service import ChatPolicy, notice_after_turn, receive, turn_still_bound
from candor.clock import utcnow
from candor.logging import get_logger
from candor.runtime import Runtime

log = get_logger(__name__)

LOCK_KEY = "candor:chat:lock:{}:{}"
LOCK_TIMEOUT_SECONDS = 60  # a crashed holder's lock expires; no message takes this long
LOCK_WAIT_SECONDS = 10


class _TurnDroppedError(Exception):
    """The turn's account was unbound (or its candidate erased) while it was answered."""


class ConversationBusyError(RuntimeError):
    """The chat's previous message is still being handled; the adapter asks for a retry."""


class ConversationGateway:
    def __init__(
        self,
        runtime: Runtime,
        *,
        engine: DialogueEngine | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.clock = clock  # moves rate-limit windows and code expiry; tests inject one
        self.engine: DialogueEngine = engine or PlaceholderEngine()
        self.policy = ChatPolicy(
            secret=runtime.settings.secret_key.get_secret_value(),
            notice=load_notice(runtime.settings.privacy_notice_file),
        )

    async def aclose(self) -> None:
        """The engine's own resources (the Rasa engine's client and its pending counts)."""
        close = getattr(self.engine, "aclose", None)
        if close is not None:
            await close()

    async def handle(self, message: InboundMessage) -> list[Reply]:
        # One message per chat account at a time, across processes: turns stay in order,
        # and a provider's redelivery waits for the original instead of answering it twice.
        lock = self.runtime.redis.lock(
            LOCK_KEY.format(message.channel.value, message.external_user_id),
            timeout=LOCK_TIMEOUT_SECONDS,
            blocking_timeout=LOCK_WAIT_SECONDS,
        )
        if not await lock.acquire():
            raise ConversationBusyError("another message of this chat is still being handled")
        try:
            return await self._handle(message)
        finally:
            with contextlib.suppress(LockError):  # expired while we worked: nothing to free
                await lock.release()

    async def _handle(self, message: InboundMessage) -> list[Reply]:
        async with self.runtime.transaction() as session:
            received = await receive(
                session, message, self.policy, redis=self.runtime.redis, now=self.clock()
            )
        message_recorded()  # committed: the adapter may acknowledge before the answer
        turn = received.engine_turn
        if turn is None:
            return received.replies
        # Read on its own: the engine's transaction must begin with the engine's first
        # statement (on SQLite an earlier read would hold a lock the engine's own work waits on).
        async with self.runtime.sessionmaker() as session:
            turn = await as_button_press(session, turn)
        try:
            async with self.runtime.transaction() as session:
                replies = await self.engine.respond(session, turn)
                # Checked last, under the account's lock: the engine may have waited on a
                # slow server while the candidate's erasure began; what it wrote for the
                # turn is rolled back rather than written back after the erasure passed.
                if not await turn_still_bound(session, turn):
                    raise _TurnDroppedError
                notice = await notice_after_turn(session, turn, self.policy, now=self.clock())
                if notice is not None:
                    replies = [*replies, notice]
                await transcript.record_replies(
                    session,
                    conversation_id=turn.conversation_id,
                    channel=turn.channel,
                    candidate_id=turn.candidate_id,
                    replies=[(r.text, [(b.title, b.payload) for b in r.buttons]) for r in replies],
                    author=f"engine:{self.engine.name}",
                    at=self.clock(),
                    reply_to=turn.inbound_message_id,
                )
        except _TurnDroppedError:
            log.info("chat.turn_dropped", conversation_id=turn.conversation_id)
            return received.replies
        return replies
