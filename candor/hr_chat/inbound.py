"""What an HR user's message or click in chat does, whatever the platform.

A bound account's text is the reason for a rejection it asked for, else it gets help; an
unbound account's text is a binding code (when it looks like one). A click acts on its
card (`candor.hr_chat.actions`). Each runs in the caller's transaction (`receive_*` open
their own); the answer is what the chat shows the HR user.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import utcnow
from candor.hr_chat import actions, binding
from candor.hr_chat.actions import Answer
from candor.hr_chat.texts import text
from candor.models import HrChatAccount, HRUser
from candor.models.enums import HrChatPlatform
from candor.runtime import Runtime
from candor.settings import Settings


async def _help(session: AsyncSession, holder: HrChatAccount) -> Answer:
    user = await session.get(HRUser, holder.user_id)
    return Answer(text(user.locale if user is not None else None, "help"))


async def on_text(
    session: AsyncSession,
    redis: Redis,
    platform: HrChatPlatform,
    external_id: str,
    content: str,
    *,
    now: datetime,
) -> Answer:
    """A bound account's text is the reason for the rejection it asked for (else it gets
    help), even when it looks like a code ("Next week"); an unbound account's text is a
    binding code when it looks like one."""
    holder = await binding.account_holder(session, platform, external_id)
    if holder is None:
        if binding.looks_like_code(content):
            return await on_code(session, redis, platform, external_id, content, now=now)
        return Answer(text(None, "not_bound"))
    answered = await actions.reason_reply(session, platform, external_id, content, now=now)
    if answered is not None:
        return answered
    return await _help(session, holder)


async def on_code(
    session: AsyncSession,
    redis: Redis,
    platform: HrChatPlatform,
    external_id: str,
    code: str,
    *,
    now: datetime,
) -> Answer:
    """A binding code, sent as one (Telegram's `/start <code>`, an unbound account's text)."""
    result = await binding.bind(session, redis, platform, external_id, code, now=now)
    locale = result.user.locale if result.user is not None else None
    if result.ok and result.user is not None:
        return Answer(text(locale, "bound", name=result.user.display_name), changed=True)
    return Answer(text(locale, result.reason))


async def receive_text(
    runtime: Runtime, platform: HrChatPlatform, external_id: str, content: str
) -> Answer:
    """`on_text` in its own transaction, committed when this returns (a callback's unit of
    work: if the commit fails the caller sees it raise and can let the platform retry)."""
    async with runtime.transaction() as session:
        return await on_text(session, runtime.redis, platform, external_id, content, now=utcnow())


async def receive_click(
    runtime: Runtime, platform: HrChatPlatform, external_id: str, token: str, action: str
) -> Answer:
    """`on_click` in its own transaction, committed when this returns."""
    async with runtime.transaction() as session:
        return await on_click(
            session, runtime.settings, platform, external_id, token, action, now=utcnow()
        )


async def on_click(
    session: AsyncSession,
    settings: Settings,
    platform: HrChatPlatform,
    external_id: str,
    token: str,
    action: str,
    *,
    now: datetime,
) -> Answer:
    return await actions.click(session, settings, platform, external_id, token, action, now=now)


HR_CALLBACK_PREFIX = "hr:"
_CALLBACK_ACTIONS = {"a": actions.APPROVE, "r": actions.REJECT}


def callback_data(action: str, token: str) -> str:
    """A card button's Telegram callback data: `hr:a:<token>` / `hr:r:<token>` (37 bytes,
    under Telegram's 64); the `hr:` prefix tells HR's clicks from candidates' buttons."""
    short = next(k for k, v in _CALLBACK_ACTIONS.items() if v == action)
    return f"{HR_CALLBACK_PREFIX}{short}:{token}"


class HrChatInbox:
    """HR traffic on a bot candidates use too (Telegram), each in its own transaction:
    `/start <code>`, `hr:` buttons, and every update from a chat bound to an HR user are
    answered here; anything else is left to the candidate conversation (None)."""

    def __init__(self, runtime: Runtime, platform: HrChatPlatform) -> None:
        self.runtime = runtime
        self.platform = platform

    async def text(self, external_id: str, content: str) -> Answer | None:
        command, _, argument = content.strip().partition(" ")
        start = command.split("@")[0] == "/start"
        now = utcnow()
        async with self.runtime.transaction() as session:
            if start and binding.looks_like_code(argument):
                return await on_code(
                    session, self.runtime.redis, self.platform, external_id, argument, now=now
                )
            holder = await binding.account_holder(session, self.platform, external_id)
            if holder is None:
                return None  # a candidate (or anyone else): the conversation handles it
            if start:  # a bare /start is no reason for a rejection
                return await _help(session, holder)
            return await on_text(
                session, self.runtime.redis, self.platform, external_id, content, now=now
            )

    async def click(self, external_id: str, data: str) -> Answer | None:
        if not data.startswith(HR_CALLBACK_PREFIX):
            return await self.other(external_id)
        short, _, token = data.removeprefix(HR_CALLBACK_PREFIX).partition(":")
        action = _CALLBACK_ACTIONS.get(short, short)
        async with self.runtime.transaction() as session:
            return await on_click(
                session,
                self.runtime.settings,
                self.platform,
                external_id,
                token,
                action,
                now=utcnow(),
            )

    async def other(self, external_id: str) -> Answer | None:
        """Anything else (a candidate's button, a photo): help for a bound HR chat, else
        None for the conversation."""
        async with self.runtime.transaction() as session:
            holder = await binding.account_holder(session, self.platform, external_id)
            return await _help(session, holder) if holder is not None else None
