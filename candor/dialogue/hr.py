"""What HR sees of the dialogue (team-scoped reads) and the shapes of the HR API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.auth.principals import HRPrincipal
from candor.auth.scope import scoped, visible_teams
from candor.chat.teams import (
    can_see_conversation,
    handoff_application,
    handoff_team,
    message_condition,
)
from candor.clock import utcnow
from candor.models import Application, ChatMessage, Conversation, Handoff, HrTask, JobQuestion
from candor.models.chat import Direction
from candor.models.dialogue import HrTaskKind, JobQuestionState
from candor.models.enums import Channel
from candor.privacy.queries import is_hidden, not_hidden


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class ReplyOut(BaseModel):
    conversation_id: int
    message_id: int
    at: datetime


class HandbackOut(BaseModel):
    conversation_id: int
    handed_back_at: datetime


class Author(StrEnum):
    """Who wrote a transcript line, as the console badges it."""

    CANDIDATE = "candidate"  # inbound
    BOT = "bot"  # the dialogue engine and the chat's own commands
    HR = "hr"  # a person, through the console or the API
    RESULT = "result"  # the result message, as delivered on that channel


def author_of(direction: Direction, author: str | None) -> Author:
    if direction is Direction.INBOUND:
        return Author.CANDIDATE
    if author is not None and author.startswith(("user:", "hr:")):
        return Author.HR
    if author == "outreach":
        return Author.RESULT
    return Author.BOT


# The most rows one read returns (the console's queues show the oldest this many).
MAX_PAGE = 500


class HandoffOut(BaseModel):
    id: int = Field(description="The hand-off's id: the paging cursor")
    conversation_id: int
    candidate_id: int | None
    # The application the hand-off is about: always one of the reader's teams'.
    application_id: int | None
    application_code: str | None
    reason: str
    opened_at: datetime
    waiting_seconds: int = Field(description="How long the hand-off has been open")
    last_message_at: datetime | None = Field(
        description="The conversation's last message the reader may read"
    )
    last_message_author: Author | None
    last_message_text: str | None


class TranscriptLineOut(BaseModel):
    cursor: str = Field(description="Pass as `after` to read the lines after this one")
    at: datetime
    channel: Channel
    author: Author
    actor: str | None = Field(description='"user:<id>" for HR, "outreach" for a result, ...')
    text: str
    conversation_id: int | None = Field(description="None for a result sent by e-mail etc.")


class ConversationOut(BaseModel):
    id: int
    channel: Channel
    candidate_id: int | None
    # The application the conversation concerns, when it is one of the reader's teams'.
    application_code: str | None
    last_message_at: datetime | None
    with_hr: bool = Field(description="A hand-off is open: a person answers, not the bot")


class JobAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=4000)
    save_to_knowledge_base: bool = False


class JobRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class JobQuestionOut(BaseModel):
    id: int
    conversation_id: int
    job_id: int | None
    topic: str | None
    locale: str
    question: str
    draft: str | None
    state: JobQuestionState
    asked_at: datetime
    answer: str | None
    decided_by: str | None

    @classmethod
    def of(cls, row: JobQuestion) -> JobQuestionOut:
        return cls(
            id=row.id,
            conversation_id=row.conversation_id,
            job_id=row.job_id,
            topic=row.topic,
            locale=row.locale.value,
            question=row.question,
            draft=row.draft,
            state=row.state,
            asked_at=row.asked_at,
            answer=row.answer,
            decided_by=row.decided_by,
        )


class HrTaskOut(BaseModel):
    id: int
    kind: HrTaskKind
    candidate_id: int | None
    application_id: int | None
    conversation_id: int | None
    details: dict[str, object]
    created_at: datetime
    done_at: datetime | None
    done_by: str | None

    @classmethod
    def of(cls, row: HrTask) -> HrTaskOut:
        return cls(
            id=row.id,
            kind=row.kind,
            candidate_id=row.candidate_id,
            application_id=row.application_id,
            conversation_id=row.conversation_id,
            details=dict(row.details),
            created_at=row.created_at,
            done_at=row.done_at,
            done_by=row.done_by,
        )


async def visible_tasks(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    open_only: bool,
    limit: int = MAX_PAGE,
    after_id: int | None = None,
) -> list[HrTask]:
    """Oldest first (by id, so a page's last id is the next page's cursor)."""
    query = select(HrTask)
    if open_only:
        query = query.where(HrTask.done_at.is_(None))
    if after_id is not None:
        query = query.where(HrTask.id > after_id)
    query = scoped(query, HrTask.team_id, visible_teams(principal))
    rows = await session.scalars(query.order_by(HrTask.id).limit(min(limit, MAX_PAGE)))
    return list(rows.all())


async def visible_task(
    session: AsyncSession, principal: HRPrincipal, task_id: int
) -> HrTask | None:
    task = await session.get(HrTask, task_id, with_for_update=True)
    if task is None:
        return None
    return task if visible_teams(principal).can_see(task.team_id) else None


async def visible_conversation(
    session: AsyncSession, principal: HRPrincipal, conversation_id: int
) -> Conversation | None:
    """The conversation if the principal's teams see it: the team of the application it is
    about, or of an open hand-off's (`candor.chat.teams`; an admin sees all); None
    otherwise, so others' conversations look absent."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    if conversation.candidate_id is not None and await is_hidden(
        session, conversation.candidate_id
    ):
        return None
    if not await can_see_conversation(session, visible_teams(principal), conversation_id):
        return None
    return conversation


async def open_handoffs(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    limit: int = MAX_PAGE,
    after_id: int | None = None,
    now: datetime | None = None,
) -> list[HandoffOut]:
    """The oldest open hand-offs the principal's teams answer (those of their applications;
    by id, the paging cursor): scoped before the limit, so other teams' hand-offs never crowd
    out the principal's own."""
    concerned = handoff_application().label("application_id")
    query = (
        select(
            Handoff.id,
            Handoff.conversation_id,
            Conversation.candidate_id,
            concerned,
            Handoff.reason,
            Handoff.opened_at,
        )
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.closed_at.is_(None), not_hidden(Conversation.candidate_id))
    )
    if after_id is not None:
        query = query.where(Handoff.id > after_id)
    query = scoped(query, handoff_team(), visible_teams(principal))
    rows = (await session.execute(query.order_by(Handoff.id).limit(min(limit, MAX_PAGE)))).all()
    application_ids = {row.application_id for row in rows if row.application_id is not None}
    codes: dict[int, str] = {}
    if application_ids:
        found = await session.execute(
            select(Application.id, Application.code).where(Application.id.in_(application_ids))
        )
        codes = {row.id: row.code for row in found.all()}
    last = await last_messages(session, principal, {row.conversation_id for row in rows})
    now = now or utcnow()
    handoffs = []
    for handoff_id, conversation_id, candidate_id, application_id, reason, opened_at in rows:
        message = last.get(conversation_id)
        handoffs.append(
            HandoffOut(
                id=handoff_id,
                conversation_id=conversation_id,
                candidate_id=candidate_id,
                application_id=application_id,
                application_code=codes.get(application_id) if application_id is not None else None,
                reason=reason,
                opened_at=opened_at,
                waiting_seconds=max(0, int((now - opened_at).total_seconds())),
                last_message_at=message.at if message is not None else None,
                last_message_author=(
                    author_of(message.direction, message.author) if message is not None else None
                ),
                last_message_text=message.text if message is not None else None,
            )
        )
    return handoffs


async def last_messages(
    session: AsyncSession,
    principal: HRPrincipal,
    conversation_ids: set[int],
    *,
    inbound_only: bool = False,
) -> dict[int, ChatMessage]:
    """Each conversation's latest message with text (only the candidate's, `inbound_only`)
    that the principal may read, in one query."""
    if not conversation_ids:
        return {}
    latest = select(func.max(ChatMessage.id)).where(
        ChatMessage.conversation_id.in_(conversation_ids), ChatMessage.text.is_not(None)
    )
    if inbound_only:
        latest = latest.where(ChatMessage.direction == Direction.INBOUND)
    readable = message_condition(visible_teams(principal))
    if readable is not None:
        latest = latest.where(readable)
    found = await session.scalars(
        select(ChatMessage).where(
            ChatMessage.id.in_(latest.group_by(ChatMessage.conversation_id).scalar_subquery())
        )
    )
    return {message.conversation_id: message for message in found}


async def visible_job_questions(
    session: AsyncSession,
    principal: HRPrincipal,
    state: JobQuestionState,
    *,
    limit: int = MAX_PAGE,
    after_id: int | None = None,
) -> list[JobQuestion]:
    """Oldest first (by id, so a page's last id is the next page's cursor)."""
    query = select(JobQuestion).where(JobQuestion.state == state)
    if after_id is not None:
        query = query.where(JobQuestion.id > after_id)
    query = scoped(query, JobQuestion.team_id, visible_teams(principal))
    rows = await session.scalars(query.order_by(JobQuestion.id).limit(min(limit, MAX_PAGE)))
    return list(rows.all())


async def visible_job_question(
    session: AsyncSession, principal: HRPrincipal, question_id: int
) -> JobQuestion | None:
    question = await session.get(JobQuestion, question_id, with_for_update=True)
    if question is None:
        return None
    return question if visible_teams(principal).can_see(question.team_id) else None
