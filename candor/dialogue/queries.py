"""What a bound candidate may learn about their own applications, read from the ATS data.

The one rule that matters: a decided result is visible only once its outreach message was
sent (approved, then sent or delivered). Until then the application reads as "interview
done, result on its way", with the date promised by the 5-working-day rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from candor.clock import utcnow
from candor.models import (
    Application,
    Candidate,
    ChatIdentity,
    Conversation,
    Interview,
    Job,
    OutreachMessage,
)
from candor.models.enums import INTERVIEW_STAGE, ApplicationStatus, Decision, Stage
from candor.models.outreach import MessageState
from candor.settings import Settings
from candor.sla.service import current_calendar

SENT_STATES = frozenset({MessageState.SENT, MessageState.DELIVERED})
# An approved result no channel could take (the candidate stopped proactive messages, or
# has no reachable channel) is theirs to read when they ask in chat.
READABLE_IN_CHAT = SENT_STATES | {MessageState.UNDELIVERABLE}


@dataclass(frozen=True, slots=True)
class ChatParty:
    """Who is on the other end of a conversation: the account and, once bound, the candidate."""

    conversation: Conversation
    identity: ChatIdentity
    candidate: Candidate | None


@dataclass(frozen=True, slots=True)
class Progress:
    application: Application
    job: Job
    stage: Stage  # as far as the candidate may know it
    status: ApplicationStatus | None  # None while a decided result is not sent yet
    last_event: str  # applied, interview_scheduled, interview_completed, result_sent, ...
    last_event_at: datetime
    expected_by: date | None  # when the next news is promised, if something is pending
    sent_result: OutreachMessage | None
    next_interview: Interview | None


async def chat_party(session: AsyncSession, conversation_id: int) -> ChatParty | None:
    """The conversation's account and its bound candidate (None if the id is unknown)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    identity = await session.get_one(ChatIdentity, conversation.chat_identity_id)
    candidate = (
        await session.get(Candidate, identity.candidate_id)
        if identity.bound_at is not None and identity.candidate_id is not None
        else None
    )
    return ChatParty(conversation, identity, candidate)


async def own_applications(session: AsyncSession, candidate_id: int) -> list[Application]:
    """The candidate's applications, newest first, with their jobs and interviews."""
    rows = await session.scalars(
        select(Application)
        .where(Application.candidate_id == candidate_id)
        .options(selectinload(Application.job), selectinload(Application.interviews))
        .order_by(Application.applied_at.desc(), Application.id.desc())
    )
    return list(rows.all())


def pick_application(
    applications: list[Application], code: str | None
) -> Application | list[Application] | None:
    """The application a question is about: the named one (only among the candidate's own),
    the only one, or the list to choose from. None when the named code is not theirs."""
    if code:
        wanted = code.strip().upper()
        return next((a for a in applications if a.code == wanted), None)
    open_ones = [a for a in applications if a.status is not ApplicationStatus.WITHDRAWN]
    choices = open_ones or applications
    if len(choices) == 1:
        return choices[0]
    return choices or None


async def sent_result(session: AsyncSession, application: Application) -> OutreachMessage | None:
    """The message of the application's current result, if it reached the candidate or was
    approved for them but could not be pushed."""
    if application.result_version == 0:
        return None
    message = await session.scalar(
        select(OutreachMessage).where(
            OutreachMessage.application_id == application.id,
            OutreachMessage.result_version == application.result_version,
        )
    )
    return message if message is not None and message.state in READABLE_IN_CHAT else None


def released_at(message: OutreachMessage) -> datetime | None:
    """When a readable result was released to the candidate: sent, or (when no channel could
    take it) approved."""
    return message.sent_at or message.decided_at


async def progress(session: AsyncSession, application: Application, settings: Settings) -> Progress:
    job = await session.get_one(Job, application.job_id)
    interviews = sorted(application.interviews, key=lambda i: (i.round, i.id))
    completed = [i for i in interviews if i.completed_at is not None]
    upcoming = [
        i
        for i in interviews
        if i.completed_at is None and i.scheduled_at is not None and i.decision is None
    ]
    result = await sent_result(session, application)
    withheld = application.result_version > 0 and result is None
    next_interview = upcoming[-1] if upcoming else None
    expected_by: date | None = None
    if application.status is ApplicationStatus.WITHDRAWN and application.withdrawn_at:
        return Progress(
            application, job, application.stage, application.status, "withdrawn",
            application.withdrawn_at, None, result, None,
        )  # fmt: skip
    if withheld or (completed and completed[-1].decision is None and next_interview is None):
        # A completed interview without a result the candidate has seen: promise a date.
        interview = completed[-1] if completed else None
        if interview is not None and interview.completed_at is not None:
            calendar = await current_calendar(session)
            days = settings.promise_working_days
            expected_by = calendar.due_at(interview.completed_at, days).due_on
            return Progress(
                application, job, INTERVIEW_STAGE[interview.kind], None, "interview_completed",
                interview.completed_at, expected_by, None, None,
            )  # fmt: skip
    if result is not None and (released := released_at(result)) is not None and not next_interview:
        return Progress(
            application, job, application.stage, application.status, "result_sent",
            released, None, result, None,
        )  # fmt: skip
    if next_interview is not None and next_interview.scheduled_at is not None:
        return Progress(
            application, job, application.stage, application.status, "interview_scheduled",
            next_interview.created_at, None, result, next_interview,
        )  # fmt: skip
    return Progress(
        application, job, application.stage, application.status, "applied",
        application.applied_at, None, result, None,
    )  # fmt: skip


# How far back a result counts as "just told" for a candidate who never wrote before.
RESULT_CONTEXT_WINDOW = timedelta(days=30)


async def result_told_since(
    session: AsyncSession, candidate_id: int, *, since: datetime | None
) -> Decision | None:
    """The outcome of the newest result that reached the candidate after `since` (their
    previous message), if any: what they are most likely replying to."""
    since = since or utcnow() - RESULT_CONTEXT_WINDOW
    return await session.scalar(
        select(OutreachMessage.outcome)
        .join(Application, Application.id == OutreachMessage.application_id)
        .where(
            Application.candidate_id == candidate_id,
            OutreachMessage.state.in_(SENT_STATES),
            OutreachMessage.sent_at > since,
        )
        .order_by(OutreachMessage.sent_at.desc())
        .limit(1)
    )


async def latest_result(session: AsyncSession, candidate_id: int) -> OutreachMessage | None:
    """The newest result message that reached the candidate, of any of their applications."""
    return await session.scalar(
        select(OutreachMessage)
        .join(Application, Application.id == OutreachMessage.application_id)
        .where(
            Application.candidate_id == candidate_id,
            OutreachMessage.state.in_(SENT_STATES),
        )
        .order_by(OutreachMessage.sent_at.desc(), OutreachMessage.id.desc())
        .limit(1)
    )
