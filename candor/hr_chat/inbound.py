"""What an HR user's message or click in chat does, whatever the platform.

A text is a binding code (when it looks like one), else the reason for a rejection the
account asked for, else it gets help. A click acts on its card (`candor.hr_chat.actions`).
Each runs in the caller's transaction; the answer is what the chat shows the HR user.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from candor.hr_chat import actions, binding
from candor.hr_chat.actions import Answer
from candor.hr_chat.texts import text
from candor.models import HRUser
from candor.models.enums import HrChatPlatform
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
