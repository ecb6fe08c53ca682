"""The writes the dialogue makes: hand-offs, HR tasks, withdrawals, satisfaction ratings, the
job knowledge base and its approval queue, and HR's chat replies.

Every function runs in the caller's transaction and only flushes; whatever must reach a
channel is a `ChatDelivery` row that the delivery loop (`candor.delivery.direct`) sends
after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor import metrics
from candor.ats.intake import accept_event
from candor.ats.schemas import ApplicationWithdrawn, ApplicationWithdrawnEvent
from candor.audit.service import Action, record
from candor.chat import teams, transcript
from candor.db.aftercommit import on_commit
from candor.delivery.direct import queue_direct
from candor.errors import CandorError
from candor.hr_chat.cards import add_handoff_cards
from candor.logging import get_logger
from candor.models import (
    Application,
    AuditEntry,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    CsatRating,
    Handoff,
    HandoffApplication,
    HrTask,
    Interview,
    Job,
    JobAnswer,
    JobQuestion,
    OutreachMessage,
)
from candor.models.dialogue import ChatDeliveryState, HrTaskKind, JobQuestionState
from candor.models.enums import ApplicationStatus, Channel, Locale
from candor.models.webhooks import WebhookEventType
from candor.webhooks import events as webhook_events

log = get_logger(__name__)

MAX_REPLY_LENGTH = 4000


class DialogueError(CandorError, ValueError):
    """A request about a conversation that cannot be carried out as asked."""

    code = "invalid_request"
    http_status = 422


class NotHandedOffError(DialogueError):
    code = "not_handed_off"
    http_status = 409


class JobQuestionClosedError(DialogueError):
    code = "already_decided"
    http_status = 409


# -- hand-off --------------------------------------------------------------------------------


async def open_handoff(
    session: AsyncSession, conversation: Conversation, *, reason: str, now: datetime
) -> Handoff:
    """Hand the conversation to a person (once: an open hand-off is returned as it is), with
    an HR task for the team of the application the conversation is about: the hand-off is
    that application's, so that team answers it (`candor.chat.teams`)."""
    current = await active_handoff(session, conversation.id)
    if current is not None:
        return current
    handoff = Handoff(conversation_id=conversation.id, reason=reason, opened_at=now)
    session.add(handoff)
    application_id = await teams.application_of_conversation(session, conversation.id)
    application = (
        await session.get_one(Application, application_id) if application_id is not None else None
    )
    if application is not None:
        await session.flush()  # the hand-off's id
        session.add(HandoffApplication(handoff_id=handoff.id, application_id=application.id))
        await add_handoff_cards(session, handoff, application, now=now)
    await add_task(
        session,
        HrTaskKind.HANDOFF,
        conversation=conversation,
        application=application,
        details={"reason": reason},
        now=now,
    )
    await session.flush()
    await _record_handoff_event(
        session,
        WebhookEventType.HANDOFF_OPENED,
        handoff,
        conversation,
        application.id if application is not None else None,
        {"reason": reason},
        now=now,
    )
    log.info("dialogue.handoff_opened", conversation_id=conversation.id, reason=reason)

    async def count() -> None:
        metrics.handoff(reason)

    # Once committed: a turn rolled back and retried must not count its hand-off twice.
    on_commit(session, count)
    return handoff


async def _record_handoff_event(
    session: AsyncSession,
    event_type: WebhookEventType,
    handoff: Handoff,
    conversation: Conversation,
    application_id: int | None,
    details: dict[str, object],
    *,
    now: datetime,
) -> None:
    """The ATS hears of a hand-off to a person and of its end (when the conversation belongs
    to a candidate: an anonymous chat is nobody the ATS knows)."""
    if conversation.candidate_id is None:
        return
    await webhook_events.record_for_candidate(
        session,
        event_type,
        conversation.candidate_id,
        application_id,
        {"handoff_id": handoff.id, "channel": conversation.channel.value, **details},
        now=now,
    )


async def active_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    found: Handoff | None = await session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.closed_at.is_(None))
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return found


async def hand_back(
    session: AsyncSession, conversation_id: int, *, actor: str, now: datetime
) -> Handoff:
    handoff = await active_handoff(session, conversation_id)
    if handoff is None:
        raise NotHandedOffError("this conversation is not with HR")
    handoff.closed_at, handoff.closed_by = now, actor
    tasks = await session.scalars(
        select(HrTask).where(
            HrTask.conversation_id == conversation_id,
            HrTask.kind == HrTaskKind.HANDOFF,
            HrTask.done_at.is_(None),
        )
    )
    for task in tasks:
        task.done_at, task.done_by = now, actor
    await session.flush()
    conversation = await session.get_one(Conversation, conversation_id)
    application_id = await session.scalar(
        select(HandoffApplication.application_id).where(HandoffApplication.handoff_id == handoff.id)
    )
    await _record_handoff_event(
        session,
        WebhookEventType.HANDOFF_CLOSED,
        handoff,
        conversation,
        application_id,
        {"closed_by": actor},
        now=now,
    )
    log.info("dialogue.handed_back", conversation_id=conversation_id, actor=actor)
    return handoff


async def reply_as_hr(
    session: AsyncSession, conversation: Conversation, text: str, *, actor: str, now: datetime
) -> ChatMessage:
    """HR's message to the candidate: a transcript row and its delivery, sent after commit."""
    body = text.strip()
    if not body or len(body) > MAX_REPLY_LENGTH:
        raise DialogueError(f"text: give 1 to {MAX_REPLY_LENGTH} characters", code="invalid_reply")
    return await _send_to_conversation(session, conversation, body, author=actor, now=now)


async def send_to_conversation(
    session: AsyncSession, conversation: Conversation, body: str, *, author: str, now: datetime
) -> ChatMessage:
    """A message Candor writes into the conversation for services outside the dialogue (an
    interview reminder, HR's change to a booking): a transcript row and its delivery, sent
    after commit, as HR's replies go."""
    return await _send_to_conversation(session, conversation, body, author=author, now=now)


async def _send_to_conversation(
    session: AsyncSession, conversation: Conversation, body: str, *, author: str, now: datetime
) -> ChatMessage:
    message = transcript.record_outbound(
        session,
        conversation_id=conversation.id,
        channel=conversation.channel,
        candidate_id=conversation.candidate_id,
        text=body,
        author=author,
        at=now,
        reply_to=None,
    )
    await transcript.touch(session, conversation.id, now)
    await session.flush()
    identity = await session.get_one(ChatIdentity, conversation.chat_identity_id)
    candidate = (
        await session.get(Candidate, conversation.candidate_id)
        if conversation.candidate_id is not None
        else None
    )
    delivery = queue_direct(
        session,
        channel=conversation.channel,
        recipient=identity.external_user_id,
        body=body,
        locale=candidate.locale if candidate is not None else Locale.ZH_CN,
        chat_message_id=message.id,
        now=now,
    )
    if conversation.channel is Channel.WEB:
        # The web chat reads the transcript itself: that row is its delivery.
        delivery.state, delivery.sent_at = ChatDeliveryState.SENT, now
    await session.flush()
    return message


# -- HR tasks and the application -----------------------------------------------------------


async def add_task(
    session: AsyncSession,
    kind: HrTaskKind,
    *,
    conversation: Conversation | None,
    application: Application | None,
    details: dict[str, object],
    now: datetime,
) -> HrTask:
    team_id = None
    if application is not None:
        team_id = (await session.get_one(Job, application.job_id)).team_id
    task = HrTask(
        kind=kind,
        team_id=team_id,
        candidate_id=application.candidate_id if application is not None else None,
        application_id=application.id if application is not None else None,
        conversation_id=conversation.id if conversation is not None else None,
        details=details,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    log.info("dialogue.hr_task", kind=kind.value, task_id=task.id, team_id=team_id)
    return task


MAX_FOLLOW_UPS = 20


async def confirm_next_round(
    session: AsyncSession,
    *,
    application: Application,
    message: OutreachMessage,
    channel: Channel,
    now: datetime,
) -> bool:
    """The candidate confirmed the next round an advance message asked them to confirm,
    recorded once per result in the audit log of the job's team (where HR sees it with the
    transcript). Not an HR task: a confirmation needs no one to act, and a task would count
    the conversation as not handled by the bot. False if it was confirmed already."""
    job = await session.get_one(Job, application.job_id)
    confirmed = await session.scalars(
        select(AuditEntry.details).where(
            AuditEntry.action == Action.NEXT_ROUND_CONFIRMED,
            AuditEntry.object_type == "application",
            AuditEntry.object_id == str(application.id),
        )
    )
    if any(details.get("outreach_message_id") == message.id for details in confirmed):
        return False
    record(
        session,
        actor="candidate",
        action=Action.NEXT_ROUND_CONFIRMED,
        object_type="application",
        object_id=application.id,
        team_id=job.team_id,
        details={"outreach_message_id": message.id, "via": "chat", "channel": channel.value},
        at=now,
    )
    log.info("dialogue.next_round_confirmed", application_code=application.code)
    return True


async def request_reschedule(
    session: AsyncSession,
    *,
    conversation: Conversation,
    application: Application,
    request: str,
    details: dict[str, object],
    now: datetime,
) -> tuple[HrTask, bool]:
    """One open reschedule task per application: a follow-up message ("周四下午也行") adds to
    the task HR already has instead of opening a second one. Returns the task and whether
    it is new."""
    task = await session.scalar(
        select(HrTask)
        .where(
            HrTask.kind == HrTaskKind.RESCHEDULE,
            HrTask.application_id == application.id,
            HrTask.done_at.is_(None),
        )
        .order_by(HrTask.id.desc())
        .limit(1)
    )
    if task is None:
        task = await add_task(
            session,
            HrTaskKind.RESCHEDULE,
            conversation=conversation,
            application=application,
            details={**details, "request": request},
            now=now,
        )
        await _record_reschedule(session, application, task, request, follow_up=False, now=now)
        return task, True
    follow_ups = [*task.details.get("follow_ups", []), {"at": now.isoformat(), "text": request}]
    # A new dict, so the JSON column sees the change.
    task.details = {**task.details, **details, "follow_ups": follow_ups[-MAX_FOLLOW_UPS:]}
    await session.flush()
    await _record_reschedule(session, application, task, request, follow_up=True, now=now)
    log.info("dialogue.hr_task_follow_up", kind=task.kind.value, task_id=task.id)
    return task, False


async def _record_reschedule(
    session: AsyncSession,
    application: Application,
    task: HrTask,
    request: str,
    *,
    follow_up: bool,
    now: datetime,
) -> None:
    """Every request (and follow-up) goes to the ATS, naming the interview it is most likely
    about: the application's latest one."""
    interview_external_id = await session.scalar(
        select(Interview.external_id)
        .where(Interview.application_id == application.id)
        .order_by(Interview.id.desc())
        .limit(1)
    )
    await webhook_events.record_for_application(
        session,
        WebhookEventType.INTERVIEW_RESCHEDULE_REQUESTED,
        application.id,
        {
            "interview_external_id": interview_external_id,
            "request": request,
            "follow_up": follow_up,
            "hr_task_id": task.id,
        },
        now=now,
    )


async def withdraw(
    session: AsyncSession,
    application: Application,
    conversation: Conversation,
    *,
    now: datetime,
) -> bool:
    """Withdraw through the ATS service (recorded as an ATS event from the chat), and tell
    HR with a task. False if it was withdrawn already."""
    if application.status is ApplicationStatus.WITHDRAWN:
        return False
    withdrawal = ApplicationWithdrawnEvent(
        event_id=f"chat-withdraw-{application.id}",
        type="application_withdrawn",
        data=ApplicationWithdrawn(
            application_external_id=application.external_id,
            withdrawn_at=now,
            reason="withdrawn by the candidate in chat",
        ),
    )
    await accept_event(session, withdrawal)
    await add_task(
        session,
        HrTaskKind.WITHDRAWAL,
        conversation=conversation,
        application=application,
        details={"application_code": application.code},
        now=now,
    )
    await webhook_events.record_for_application(
        session,
        WebhookEventType.CANDIDATE_WITHDREW,
        application.id,
        {"withdrawn_at": webhook_events.iso_utc(now), "via": "chat"},
        now=now,
    )
    return True


# -- satisfaction ---------------------------------------------------------------------------


async def ask_rating_once(
    session: AsyncSession,
    message: OutreachMessage,
    candidate_id: int,
    conversation_id: int,
    *,
    now: datetime,
) -> bool:
    """Record that the rating question about this result is asked; False if it was before."""
    existing = await session.scalar(
        select(CsatRating.id).where(CsatRating.outreach_message_id == message.id)
    )
    if existing is not None:
        return False
    session.add(
        CsatRating(
            outreach_message_id=message.id,
            candidate_id=candidate_id,
            conversation_id=conversation_id,
            asked_at=now,
        )
    )
    await session.flush()
    return True


async def store_rating(
    session: AsyncSession, candidate_id: int, rating: int, *, now: datetime
) -> CsatRating | None:
    """Store the rating on the candidate's latest question; None if none was asked."""
    if not 1 <= rating <= 5:
        raise DialogueError("a rating is 1 to 5")
    row = await session.scalar(
        select(CsatRating)
        .where(CsatRating.candidate_id == candidate_id)
        .order_by(CsatRating.asked_at.desc(), CsatRating.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    row.rating, row.rated_at = rating, now
    await session.flush()
    application_id = await session.scalar(
        select(OutreachMessage.application_id).where(OutreachMessage.id == row.outreach_message_id)
    )
    assert application_id is not None  # the rated message's foreign key
    await webhook_events.record_for_application(
        session,
        WebhookEventType.CSAT_RECORDED,
        application_id,
        {"rating": rating, "scale": 5, "message_id": row.outreach_message_id},
        now=now,
    )
    log.info("dialogue.csat", candidate_id=candidate_id, rating=rating)
    return row


# -- job knowledge base and its approval queue -----------------------------------------------


async def approved_answer(
    session: AsyncSession, job_id: int | None, topic: str, locale: Locale
) -> JobAnswer | None:
    """The job's own approved answer on the topic, else the company-wide one."""
    for scope in (job_id, None) if job_id is not None else (None,):
        found = await session.scalar(
            select(JobAnswer).where(
                JobAnswer.job_id.is_(None) if scope is None else JobAnswer.job_id == scope,
                JobAnswer.topic == topic,
                JobAnswer.locale == locale,
            )
        )
        if found is not None:
            return found
    return None


async def queue_job_question(
    session: AsyncSession,
    conversation: Conversation,
    *,
    application: Application | None,
    topic: str | None,
    locale: Locale,
    question: str,
    draft: str | None,
    now: datetime,
) -> JobQuestion:
    job = await session.get_one(Job, application.job_id) if application is not None else None
    row = JobQuestion(
        conversation_id=conversation.id,
        candidate_id=conversation.candidate_id,
        job_id=job.id if job is not None else None,
        team_id=job.team_id if job is not None else None,
        topic=topic,
        locale=locale,
        question=question,
        draft=draft,
        state=JobQuestionState.PENDING,
        asked_at=now,
    )
    session.add(row)
    await session.flush()
    log.info("dialogue.job_question_queued", question_id=row.id, topic=topic)
    return row


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    question: JobQuestion
    message: ChatMessage


async def answer_job_question(
    session: AsyncSession,
    question: JobQuestion,
    answer: str,
    *,
    actor: str,
    save_to_knowledge_base: bool,
    now: datetime,
) -> AnsweredQuestion:
    """HR approves an answer: it is queued for the candidate (sent after commit) and, if
    asked, becomes the job's approved answer on the topic."""
    if question.state is not JobQuestionState.PENDING:
        raise JobQuestionClosedError(f"question {question.id} is {question.state.value}")
    body = answer.strip()
    if not body or len(body) > MAX_REPLY_LENGTH:
        raise DialogueError(
            f"answer: give 1 to {MAX_REPLY_LENGTH} characters", code="invalid_answer"
        )
    question.state, question.answer = JobQuestionState.ANSWERED, body
    question.decided_by, question.decided_at = actor, now
    if save_to_knowledge_base:
        if question.topic is None:
            raise DialogueError(
                "this question has no topic to file the answer under", code="invalid_answer"
            )
        await save_answer(
            session, question.job_id, question.topic, question.locale, body, actor=actor, now=now
        )
    conversation = await session.get_one(Conversation, question.conversation_id)
    message = await _send_to_conversation(session, conversation, body, author=actor, now=now)
    return AnsweredQuestion(question, message)


async def save_answer(
    session: AsyncSession,
    job_id: int | None,
    topic: str,
    locale: Locale,
    answer: str,
    *,
    actor: str,
    now: datetime,
) -> JobAnswer:
    row = await session.scalar(
        select(JobAnswer).where(
            JobAnswer.job_id.is_(None) if job_id is None else JobAnswer.job_id == job_id,
            JobAnswer.topic == topic,
            JobAnswer.locale == locale,
        )
    )
    if row is None:
        row = JobAnswer(job_id=job_id, topic=topic, locale=locale, answer=answer)
        session.add(row)
    row.answer, row.approved_by, row.approved_at = answer, actor, now
    await session.flush()
    return row
