"""Building the outreach context for one unit of work, and drafting the results ATS events
decide with it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import Application, Interview
from candor.models.enums import Decision
from candor.outreach.service import OutreachContext, QuietHours, draft_result_message
from candor.settings import Settings
from candor.sla.service import current_calendar


async def outreach_context(session: AsyncSession, settings: Settings) -> OutreachContext:
    return OutreachContext(
        company_name=settings.company_name,
        calendar=await current_calendar(session),
        promise_working_days=settings.promise_working_days,
        quiet_hours=QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end),
        sms_sign_name=settings.sms_sign_name or "",
    )


@dataclass
class ResultDrafter:
    """Drafts the candidate's message for each result an ATS event decides: the listener
    `candor.ats.intake.accept_event` calls. The context is built on the first result and kept,
    so one drafter serves a batch of events with one calendar.

    A template that fails to render does not reject the event: the draft needs attention
    instead (see `draft_result_message`). Only a missing template does (503, retried)."""

    settings: Settings
    context: OutreachContext | None = None

    async def __call__(
        self,
        session: AsyncSession,
        application: Application,
        interview: Interview | None,
        decision: Decision,
    ) -> None:
        if self.context is None:
            self.context = await outreach_context(session, self.settings)
        await draft_result_message(session, application, interview, decision, self.context)
