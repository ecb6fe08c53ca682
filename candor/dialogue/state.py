"""Per-conversation dialogue state in the database, and the Redis lock around a turn.

Two processes may receive messages of one candidate at once (a WeChat retry landing on
another API process, a web chat and a Telegram message). The turn holds a Redis lock on the
conversation from before it reads the state until its transaction has ended, so turns of one
conversation run one after another; on PostgreSQL the state row is also read FOR UPDATE,
which keeps the order even if a lock expired under a stalled process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.dialogue.aftercommit import on_end
from candor.logging import get_logger
from candor.models import DialogueState

log = get_logger(__name__)

LOCK_TIMEOUT_SECONDS = 30.0  # a turn that takes longer has failed; the lock frees itself
LOCK_WAIT_SECONDS = 10.0
EVENTS_KEPT = 60


class ConversationBusyError(RuntimeError):
    """Another turn of this conversation held the lock for too long."""


def lock_key(conversation_id: int) -> str:
    return f"candor:dialogue:lock:{conversation_id}"


async def lock_for_transaction(redis: Redis, session: AsyncSession, conversation_id: int) -> None:
    """Take the conversation's lock until `session`'s current transaction ends."""
    lock = redis.lock(
        lock_key(conversation_id),
        timeout=LOCK_TIMEOUT_SECONDS,
        blocking_timeout=LOCK_WAIT_SECONDS,
        sleep=0.01,
    )
    if not await lock.acquire():
        log.warning("dialogue.conversation_busy", conversation_id=conversation_id)
        raise ConversationBusyError(f"conversation {conversation_id} is busy")

    async def release() -> None:
        try:
            await lock.release()
        except LockError:
            log.warning("dialogue.lock_expired", conversation_id=conversation_id)

    on_end(session, release)


async def load_state(
    session: AsyncSession, conversation_id: int, initial_slots: Mapping[str, Any]
) -> DialogueState:
    """The conversation's state row (created on the first turn), locked for this transaction."""
    query = (
        select(DialogueState)
        .where(DialogueState.conversation_id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    state = await session.scalar(query)
    if state is not None:
        return state
    try:
        async with session.begin_nested():
            state = DialogueState(
                conversation_id=conversation_id,
                slots=dict(initial_slots),
                active_loop=None,
                events=[],
                version=0,
            )
            session.add(state)
    except IntegrityError:
        state = await session.scalar(query)
        assert state is not None
    return state


def save_state(
    state: DialogueState,
    *,
    slots: Mapping[str, Any],
    active_loop: str | None,
    events: list[dict[str, Any]],
    now: datetime,
) -> None:
    # New containers, so the JSON columns are seen as changed.
    state.slots = dict(slots)
    state.active_loop = active_loop
    state.events = list(events[-EVENTS_KEPT:])
    state.version += 1
    state.updated_at = now


async def recent_events(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """The stored events of a conversation (tests, the console's debugging view)."""
    state = await session.get(DialogueState, conversation_id)
    return list(state.events) if state is not None else []
