"""Per-conversation dialogue state in the database.

Turns of one conversation run one after another: the gateway holds the chat account's Redis
lock (`bot.conversation`) from before it records a message until the engine's transaction
has committed, and a conversation belongs to exactly one chat account. The database keeps
the state consistent even if that lock expired under a stalled process: on PostgreSQL the
state row is read FOR UPDATE, SQLite has a single writer (`BEGIN IMMEDIATE`), and every
write names the version it read.

The state is read and written with Core statements, not ORM objects: one row per turn,
read once and written once, needs none of the ORM's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Table, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.logging import get_logger
from candor.models import DialogueState, Handoff

log = get_logger(__name__)

EVENTS_KEPT = 60

_STATES: Table = DialogueState.__table__  # type: ignore[assignment]
_HANDOFFS: Table = Handoff.__table__  # type: ignore[assignment]


class StateConflictError(RuntimeError):
    """The state changed since this turn read it: the turn is rolled back, not merged."""


@dataclass(slots=True)
class StoredState:
    """A conversation's state as this turn read it."""

    conversation_id: int
    slots: dict[str, Any]
    active_loop: str | None
    events: list[dict[str, Any]]
    version: int
    with_hr: bool  # an open hand-off: HR has the conversation, the bot stays quiet


# Built once, with bind parameters: building and hashing a statement per turn cost about as
# much CPU as running it.
_READ = (
    select(
        _STATES.c.slots,
        _STATES.c.active_loop,
        _STATES.c.events,
        _STATES.c.version,
        exists()
        .where(
            _HANDOFFS.c.conversation_id == _STATES.c.conversation_id,
            _HANDOFFS.c.closed_at.is_(None),
        )
        .label("with_hr"),
    )
    .where(_STATES.c.conversation_id == bindparam("p_conversation_id"))
    .with_for_update(of=_STATES)
)
_CREATE = insert(_STATES).values(
    conversation_id=bindparam("p_conversation_id"),
    slots=bindparam("p_slots"),
    active_loop=None,
    events=[],
    version=0,
)
_SAVE = (
    update(_STATES)
    .where(
        _STATES.c.conversation_id == bindparam("p_conversation_id"),
        _STATES.c.version == bindparam("p_version"),
    )
    .values(
        slots=bindparam("p_slots"),
        active_loop=bindparam("p_active_loop"),
        events=bindparam("p_events"),
        version=_STATES.c.version + 1,
        updated_at=bindparam("p_now"),
    )
)


async def load_state(
    session: AsyncSession, conversation_id: int, initial_slots: Mapping[str, Any]
) -> StoredState:
    """The conversation's state (its row created on the first turn), locked for this
    transaction, and whether HR has the conversation (one query)."""
    key = {"p_conversation_id": conversation_id}
    row = (await session.execute(_READ, key)).one_or_none()
    if row is None:
        try:
            async with session.begin_nested():  # two first turns racing: the loser reads
                await session.execute(_CREATE, {**key, "p_slots": dict(initial_slots)})
        except IntegrityError:
            pass
        row = (await session.execute(_READ, key)).one()
    return StoredState(
        conversation_id=conversation_id,
        slots=dict(row.slots or {}),
        active_loop=row.active_loop,
        events=list(row.events or []),
        version=int(row.version),
        with_hr=bool(row.with_hr),
    )


async def save_state(
    session: AsyncSession,
    state: StoredState,
    *,
    slots: Mapping[str, Any],
    active_loop: str | None,
    events: list[dict[str, Any]],
    now: datetime,
) -> None:
    """Write the turn's state over the version it read (`StateConflictError` if another
    writer got there first, which the row lock and the chat lock should make impossible)."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        _SAVE,
        {
            "p_conversation_id": state.conversation_id,
            "p_version": state.version,
            "p_slots": dict(slots),
            "p_active_loop": active_loop,
            "p_events": events[-EVENTS_KEPT:],
            "p_now": now,
        },
    )
    if result.rowcount != 1:
        log.error("dialogue.state_conflict", conversation_id=state.conversation_id)
        raise StateConflictError(f"conversation {state.conversation_id} changed meanwhile")


async def recent_events(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """The stored events of a conversation (tests, the console's debugging view)."""
    events = await session.scalar(
        select(_STATES.c.events).where(_STATES.c.conversation_id == conversation_id)
    )
    return list(events) if events is not None else []
