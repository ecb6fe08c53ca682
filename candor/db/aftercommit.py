"""The one after-commit hook: run coroutines after a session's transaction commits (forget a
cached pointer, release a lock), never before and never for a transaction that rolled back.

Sending is not an effect: whatever reaches a person is a row the delivery loop sends
(`candor.delivery.loop`), so it survives a crash right after the commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from candor.logging import get_logger

log = get_logger(__name__)

Effect = Callable[[], Awaitable[object]]
_running: set[asyncio.Task[Any]] = set()


def on_commit(session: AsyncSession, effect: Effect) -> None:
    """Run `effect` once the session's outermost transaction has committed."""
    _hook(session, effect, commit_only=True)


def on_end(session: AsyncSession, effect: Effect) -> None:
    """Run `effect` once the session's outermost transaction ends, committed or not."""
    _hook(session, effect, commit_only=False)


def _hook(session: AsyncSession, effect: Effect, *, commit_only: bool) -> None:
    sync_session = session.sync_session
    outermost = sync_session.get_transaction()
    loop = asyncio.get_running_loop()
    # Listeners cannot be removed while SQLAlchemy dispatches; a spent one just does nothing
    # (sessions are short-lived, so this leaks nothing).
    flags = {"committed": False, "done": False}

    def committed(_: Session) -> None:
        flags["committed"] = True

    def ended(_: Session, transaction: SessionTransaction) -> None:
        if flags["done"] or (outermost is not None and transaction is not outermost):
            return  # spent, or a SAVEPOINT / another transaction ended
        flags["done"] = True
        if commit_only and not flags["committed"]:
            return
        task = loop.create_task(_guarded(effect))
        _running.add(task)
        task.add_done_callback(_running.discard)

    event.listen(sync_session, "after_commit", committed)
    event.listen(sync_session, "after_transaction_end", ended)


async def _guarded(effect: Effect) -> None:
    try:
        await effect()
    except Exception as exc:  # an effect's failure must not vanish silently
        log.warning("db.after_commit_failed", error=type(exc).__name__, detail=str(exc))


async def drain() -> None:
    """Wait for every scheduled effect (tests and benchmarks)."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)
