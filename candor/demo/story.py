"""The demo's story in figures, read back through the real KPI service: feedback timeliness
before and after the company adopted Candor, CSAT, open breaches and today's approval inbox.

The benchmark prints them and the tests check them; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.clock import BUSINESS_TZ
from candor.demo.seed import HISTORY_DAYS, adoption_day
from candor.kpis import figures
from candor.kpis.filters import KpiFilter
from candor.models import HRUser
from candor.models.enums import Role
from candor.models.outreach import MessageState, OutreachMessage
from candor.sla.calendar import WorkingCalendar


@dataclass(frozen=True, slots=True)
class DemoStory:
    before: figures.Figures  # from the start of the history to the day before adoption
    after: figures.Figures  # from the adoption day to today
    inbox_drafts: int  # awaiting approval now
    inbox_due_soon: int  # of which due today or later (not overdue)


async def read_story(
    session: AsyncSession, calendar: WorkingCalendar, *, now: datetime, promise_working_days: int
) -> DemoStory:
    admin_id = await session.scalar(select(HRUser.id).where(HRUser.role == Role.ADMIN))
    assert admin_id is not None
    admin = HRPrincipal(user_id=admin_id, role=Role.ADMIN, team_ids=frozenset())
    today = now.astimezone(BUSINESS_TZ).date()
    adopted = adoption_day(now)

    async def between(first: date, last: date) -> figures.Figures:
        return await figures.figures(
            session,
            admin,
            KpiFilter(first, last),
            calendar,
            promise_working_days=promise_working_days,
            now=now,
        )

    before = await between(today - timedelta(days=HISTORY_DAYS), adopted - timedelta(days=1))
    after = await between(adopted, today)
    due = list(
        await session.scalars(
            select(OutreachMessage.due_at).where(
                OutreachMessage.state == MessageState.PENDING_APPROVAL
            )
        )
    )
    return DemoStory(
        before=before,
        after=after,
        inbox_drafts=len(due),
        inbox_due_soon=sum(
            1 for at in due if at is not None and at.astimezone(BUSINESS_TZ).date() >= today
        ),
    )
