"""HR's decisions in a conversation, each audited in the caller's transaction.

The console, the API and the CLI call these, never the underlying writes directly, so
every reply, hand-back, answered or rejected job question, finished task and unbinding has
its `audit_log` row (who, what, before and after) committed with the change itself. The
writes are `candor.dialogue.service`'s and `candor.chat.binding`'s; these functions only
add the decision's audit row. Like them, they flush and never commit: the request's (or the
command's) unit of work does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record, recorded_since
from candor.auth.principals import HRPrincipal
from candor.auth.scope import visible_teams
from candor.chat import binding
from candor.chat.teams import team_of_candidate, team_of_conversation, team_of_handoff
from candor.console import conversations as views
from candor.console.conversations import Line, LineKey
from candor.dialogue import service
from candor.models import (
    ChatIdentity,
    ChatMessage,
    Conversation,
    Handoff,
    HrTask,
    JobQuestion,
)
from candor.models.dialogue import JobQuestionState

MAX_REASON = 2000


async def reply(
    session: AsyncSession, conversation: Conversation, text: str, *, actor: str, now: datetime
) -> ChatMessage:
    """HR's message to the candidate on the conversation's channel (sent after commit),
    audited under the team of the open hand-off it answers, else of the conversation."""
    message = await service.reply_as_hr(session, conversation, text, actor=actor, now=now)
    waiting = await service.active_handoff(session, conversation.id)
    record(
        session,
        actor=actor,
        action=Action.CONVERSATION_REPLIED,
        object_type="conversation",
        object_id=conversation.id,
        team_id=(
            await team_of_handoff(session, waiting)
            if waiting is not None
            else await team_of_conversation(session, conversation)
        ),
        after={"message_id": message.id, "channel": message.channel.value, "text": message.text},
        at=now,
    )
    return message


async def hand_back(
    session: AsyncSession, conversation: Conversation, *, actor: str, now: datetime
) -> Handoff:
    """Give the conversation back to the bot; NotHandedOffError if it is not with HR.
    Audited under the team that answered the hand-off."""
    handoff = await service.hand_back(session, conversation.id, actor=actor, now=now)
    record(
        session,
        actor=actor,
        action=Action.CONVERSATION_HANDED_BACK,
        object_type="conversation",
        object_id=conversation.id,
        team_id=await team_of_handoff(session, handoff),
        before={"with": "hr", "handoff_id": handoff.id, "reason": handoff.reason},
        after={"with": "bot"},
        at=now,
    )
    return handoff


async def read_transcript(
    session: AsyncSession,
    principal: HRPrincipal,
    conversation: Conversation,
    *,
    after: LineKey,
    limit: int,
    now: datetime,
    window: timedelta = timedelta(0),
) -> list[Line]:
    """A page of the transcript of a conversation the principal sees, over the API: the
    candidate's across channels when the conversation is bound, else the conversation's;
    audited like the console's page (once per `window`)."""
    candidate_id = conversation.candidate_id
    lines = await views.transcript(
        session,
        visible_teams(principal),
        candidate_id=candidate_id,
        conversation_id=None if candidate_id is not None else conversation.id,
        limit=limit,
        after=after,
    )
    await transcript_read(
        session,
        actor=principal.actor,
        candidate_id=candidate_id,
        conversation=conversation,
        lines=len(lines),
        via="api",
        now=now,
        window=window,
    )
    return lines


async def transcript_read(
    session: AsyncSession,
    *,
    actor: str,
    candidate_id: int | None,
    conversation: Conversation | None,
    lines: int,
    via: str,
    now: datetime,
    window: timedelta = timedelta(0),
) -> bool:
    """A person read a transcript: the candidate's across channels or, of an account nobody
    is bound to, the one conversation's. Audited under the team the candidate (or the
    conversation) belongs to, with how many lines were shown and where (console or API).

    One row per reader and candidate (or conversation) per `window`: reloading the page,
    or paging through it over the API, within the window adds none (the row says when the
    reading began). False when no row was written for that reason."""
    if candidate_id is not None:
        object_type, object_id = "candidate", candidate_id
    else:
        assert conversation is not None
        object_type, object_id = "conversation", conversation.id
    if window > timedelta(0) and await recorded_since(
        session,
        actor=actor,
        action=Action.TRANSCRIPT_READ,
        object_type=object_type,
        object_id=object_id,
        since=now - window,
    ):
        return False
    if candidate_id is not None:
        team_id = await team_of_candidate(session, candidate_id)
    else:
        assert conversation is not None
        team_id = await team_of_conversation(session, conversation)
    details: dict[str, object] = {"lines": lines, "via": via}
    if conversation is not None:
        details["conversation_id"] = conversation.id
    record(
        session,
        actor=actor,
        action=Action.TRANSCRIPT_READ,
        object_type=object_type,
        object_id=object_id,
        team_id=team_id,
        details=details,
        at=now,
    )
    return True


async def candidate_viewed(
    session: AsyncSession,
    *,
    actor: str,
    candidate_id: int,
    what: str,
    via: str,
    now: datetime,
    window: timedelta = timedelta(0),
) -> bool:
    """A person looked a candidate up (their conversations' list over the API): audited
    like a transcript read, once per reader and candidate per `window`."""
    if window > timedelta(0) and await recorded_since(
        session,
        actor=actor,
        action=Action.CANDIDATE_VIEWED,
        object_type="candidate",
        object_id=candidate_id,
        since=now - window,
    ):
        return False
    record(
        session,
        actor=actor,
        action=Action.CANDIDATE_VIEWED,
        object_type="candidate",
        object_id=candidate_id,
        team_id=await team_of_candidate(session, candidate_id),
        details={"what": what, "via": via},
        at=now,
    )
    return True


def _question_state(question: JobQuestion) -> dict[str, object]:
    return {
        "state": question.state.value,
        "draft": question.draft,
        "answer": question.answer,
    }


async def approve_job_question(
    session: AsyncSession,
    question: JobQuestion,
    answer: str,
    *,
    actor: str,
    save_to_knowledge_base: bool,
    now: datetime,
) -> service.AnsweredQuestion:
    """Send `answer` to the candidate: the bot's draft as it was (approved) or changed
    (edited and approved). JobQuestionClosedError once decided; DialogueError for bad text."""
    before = _question_state(question)
    answered = await service.answer_job_question(
        session,
        question,
        answer,
        actor=actor,
        save_to_knowledge_base=save_to_knowledge_base,
        now=now,
    )
    edited = question.draft is None or question.answer != question.draft.strip()
    record(
        session,
        actor=actor,
        action=Action.JOB_QUESTION_EDITED_AND_APPROVED if edited else Action.JOB_QUESTION_APPROVED,
        object_type="job_question",
        object_id=question.id,
        team_id=question.team_id,
        before=before,
        after={**_question_state(question), "message_id": answered.message.id},
        details={"saved_to_knowledge_base": save_to_knowledge_base},
        at=now,
    )
    return answered


async def reject_job_question(
    session: AsyncSession, question: JobQuestion, *, actor: str, reason: str, now: datetime
) -> JobQuestion:
    """Dismiss the drafted answer: nothing is sent. JobQuestionClosedError once decided."""
    if question.state is not JobQuestionState.PENDING:
        raise service.JobQuestionClosedError(f"question {question.id} is {question.state.value}")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise service.DialogueError(
            f"reason: give 1 to {MAX_REASON} characters", code="invalid_reason"
        )
    before = _question_state(question)
    question.state = JobQuestionState.DISMISSED
    question.decided_by, question.decided_at = actor, now
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.JOB_QUESTION_REJECTED,
        object_type="job_question",
        object_id=question.id,
        team_id=question.team_id,
        before=before,
        after=_question_state(question),
        details={"reason": reason},
        at=now,
    )
    return question


async def complete_task(session: AsyncSession, task: HrTask, *, actor: str, now: datetime) -> bool:
    """Mark the task done; False (and no audit row) if it was done already."""
    if task.done_at is not None:
        return False
    task.done_at, task.done_by = now, actor
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.HR_TASK_DONE,
        object_type="hr_task",
        object_id=task.id,
        team_id=task.team_id,
        before={"done_at": None},
        after={"done_at": now.isoformat(), "done_by": actor},
        details={"kind": task.kind.value},
        at=now,
    )
    return True


async def unbind_identity(
    session: AsyncSession,
    identity: ChatIdentity,
    *,
    actor: str,
    via: str,
    team_id: int | None,
    now: datetime,
) -> bool:
    """Unbind the chat account from its candidate: nothing more reaches the candidate there
    and the account's messages are no longer theirs. Recorded in the identity's history
    (`chat_identity_events`) and in the audit log. False if it was not bound."""
    before = {
        "channel": identity.channel.value,
        "candidate_id": identity.candidate_id,
        "bound_at": identity.bound_at.isoformat() if identity.bound_at is not None else None,
    }
    if not await binding.unbind(session, identity, actor=actor, via=via, now=now):
        return False
    await session.flush()
    record(
        session,
        actor=actor,
        action=Action.IDENTITY_UNBOUND,
        object_type="chat_identity",
        object_id=identity.id,
        team_id=team_id,
        before=before,
        after={"channel": identity.channel.value, "candidate_id": None, "bound_at": None},
        details={"via": via},
        at=now,
    )
    return True


async def bound_identities(
    session: AsyncSession, candidate_id: int, *, for_update: bool = False
) -> list[ChatIdentity]:
    """The chat accounts bound to the candidate now, by channel."""
    query = (
        select(ChatIdentity)
        .where(ChatIdentity.candidate_id == candidate_id, ChatIdentity.bound_at.is_not(None))
        .order_by(ChatIdentity.channel, ChatIdentity.id)
    )
    if for_update:
        query = query.with_for_update()
    return list((await session.scalars(query)).all())
