"""Building the outreach context for one unit of work."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from candor.outreach.service import OutreachContext, QuietHours
from candor.settings import Settings
from candor.sla.service import current_calendar


async def outreach_context(session: AsyncSession, settings: Settings) -> OutreachContext:
    return OutreachContext(
        company_name=settings.company_name,
        calendar=await current_calendar(session),
        promise_working_days=settings.promise_working_days,
        quiet_hours=QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end),
    )
