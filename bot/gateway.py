"""The seam between chat channels and the conversation.

Every channel adapter (WeChat callback, Telegram webhook, web chat) authenticates, parses and
de-duplicates its provider's request, turns it into an `InboundMessage` (a domain value type,
`candor.chat.messages`), and hands it to a `Gateway`. The gateway owns everything
channel-independent: finding the chat identity, binding, opt-out, recording the transcript,
and asking the dialogue engine for an answer. The adapter renders the returned `Reply`
objects in its channel's own form (passive XML reply, Bot API call, web-chat JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from candor.chat.messages import InboundMessage, Reply


class Gateway(Protocol):
    async def handle(self, message: InboundMessage) -> list[Reply]: ...


# Set by an adapter that must not acknowledge a message before it is durably recorded (the
# WeChat callback's late path): called by the gateway once the message has been committed.
_on_recorded: ContextVar[Callable[[], None] | None] = ContextVar("on_recorded", default=None)


@contextmanager
def notify_recorded(callback: Callable[[], None]) -> Iterator[None]:
    """Within this block (a task's context), `message_recorded()` calls `callback`."""
    token = _on_recorded.set(callback)
    try:
        yield
    finally:
        _on_recorded.reset(token)


def message_recorded() -> None:
    """Gateways call this once the message is committed: losing the process after this
    point loses no message, so the adapter may acknowledge it before the answer is ready."""
    callback = _on_recorded.get()
    if callback is not None:
        callback()
