"""Where an action's database session comes from.

Under the embedded engine, actions run inside the gateway's transaction (`use_env`), so their
writes commit or roll back with the transcript. Behind `python -m rasa_sdk --actions actions`
each action call opens its own transaction on a process-wide `Runtime` built from the same
`CANDOR_*` settings as the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from candor.metrics.process import configure as configure_metrics
from candor.runtime import Runtime
from candor.settings import Settings, get_settings


@dataclass(frozen=True, slots=True)
class ActionEnv:
    session: AsyncSession
    settings: Settings
    redis: Redis


_current: ContextVar[ActionEnv | None] = ContextVar("candor_action_env", default=None)
_server_runtime: Runtime | None = None
_server_lock = asyncio.Lock()


@contextmanager
def use_env(env: ActionEnv) -> Iterator[None]:
    token = _current.set(env)
    try:
        yield
    finally:
        _current.reset(token)


@asynccontextmanager
async def action_env() -> AsyncIterator[ActionEnv]:
    current = _current.get()
    if current is not None:
        yield current
        return
    runtime = await _runtime()
    async with runtime.transaction() as session:
        yield ActionEnv(session, runtime.settings, runtime.redis)


async def _runtime() -> Runtime:
    global _server_runtime
    async with _server_lock:
        if _server_runtime is None:
            settings = get_settings()
            # The action server shares the host's metrics directory: hand-offs (Rasa engine)
            # are counted here.
            configure_metrics(settings)
            _server_runtime = Runtime.create(settings)
        return _server_runtime
