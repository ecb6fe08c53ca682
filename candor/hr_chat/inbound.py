"""What an HR user's message or click in chat does, whatever the platform.

A text is a binding code (when it looks like one), else the reason for a rejection the
account asked for, else it gets help. A click acts on its card (`candor.hr_chat.actions`).
Each runs in the caller's transaction; the answer is what the chat shows the HR user.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from candor.clock import utcnow
from candor.hr_chat import actions, binding
from candor.hr_chat.actions import Answer
from candor.hr_chat.texts import text
from candor.models import HRUser
from candor.models.enums import HrChatPlatform
from candor.runtime import Runtime
from candor.settings import Settings


async def _locale(session: AsyncSession, platform: HrChatPlatform, external_id: str) -> str | None:
    holder = await binding.account_holder(session, platform, external_id)
    if holder is None:
        return None
    user = await session.get(HRUser, holder.user_id)
    return user.locale if user is not None else None


async def on_text(
    session: AsyncSession,
    redis: Redis,
    platform: HrChatPlatform,
    external_id: str,
    content: str,
    *,
    now: datetime,
) -> Answer:
    if binding.looks_like_code(content):
        result = await binding.bind(session, redis, platform, external_id, content, now=now)
        locale = result.user.locale if result.user is not None else None
        if result.ok and result.user is not None:
            return Answer(text(locale, "bound", name=result.user.display_name), changed=True)
        return Answer(text(locale, result.reason))
    answered = await actions.reason_reply(session, platform, external_id, content, now=now)
    if answered is not None:
        return answered
    locale = await _locale(session, platform, external_id)
    holder = await binding.account_holder(session, platform, external_id)
    return Answer(text(locale, "help" if holder is not None else "not_bound"))


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
    """HR traffic on a bot candidates use too (Telegram): recognised and handled here, each
    in its own transaction; anything else is left to the candidate conversation (None)."""

    def __init__(self, runtime: Runtime, platform: HrChatPlatform) -> None:
        self.runtime = runtime
        self.platform = platform

    async def text(self, external_id: str, content: str) -> Answer | None:
        command, _, argument = content.strip().partition(" ")
        now = utcnow()
        async with self.runtime.transaction() as session:
            if command.split("@")[0] == "/start" and binding.looks_like_code(argument):
                return await on_text(
                    session, self.runtime.redis, self.platform, external_id, argument, now=now
                )
            if await binding.account_holder(session, self.platform, external_id) is None:
                return None  # a candidate (or anyone else): the conversation handles it
            return await on_text(
                session, self.runtime.redis, self.platform, external_id, content, now=now
            )

    async def click(self, external_id: str, data: str) -> Answer | None:
        if not data.startswith(HR_CALLBACK_PREFIX):
            return None
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
