"""HR in the conversation: reply to a candidate, hand the conversation back to the bot, and
answer the job questions the bot could not. Team-scoped; every POST takes an
`Idempotency-Key`. Replies are written with their delivery row and sent after commit; every
decision is audited by `candor.dialogue.hr_actions`, as in the console."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentHR, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, ApiError, error_responses
from api.idempotent import IdempotentPostDep
from api.paging import DEFAULT_PAGE_SIZE, AfterId, PageLimit
from candor.clock import utcnow
from candor.dialogue import hr_actions
from candor.dialogue.hr import (
    HandbackOut,
    HandoffOut,
    HrTaskOut,
    JobAnswerIn,
    JobQuestionOut,
    JobRejectIn,
    ReplyIn,
    ReplyOut,
    open_handoffs,
    visible_conversation,
    visible_job_question,
    visible_job_questions,
    visible_task,
    visible_tasks,
)
from candor.ids import RowId
from candor.models.dialogue import JobQuestionState

router = APIRouter(prefix="/api/v1", tags=["conversations"], responses=error_responses(HR_TOKEN))
NOT_FOUND = {404: "No such conversation (or question, or task) in your teams"}
ALREADY_DECIDED = {409: "Already answered or dismissed (`already_decided`)"}
Found = TypeVar("Found")


def _found(row: Found | None, what: str) -> Found:
    """The looked-up row, or the 404 for it: another team's row answers as if there were none."""
    if row is None:
        raise ApiError(404, "not_found", f"no {what}")
    return row


@router.get(
    "/conversations/handoffs",
    response_model=list[HandoffOut],
    summary="Conversations waiting for a person, oldest first (paged by `id`)",
)
async def list_handoffs(
    session: SessionDep,
    principal: CurrentHR,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[HandoffOut]:
    return await open_handoffs(session, principal, limit=limit, after_id=after_id)


@router.post(
    "/conversations/{conversation_id}/replies",
    response_model=ReplyOut,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND),
    summary="Send HR's message to the candidate on their channel",
)
async def reply(
    conversation_id: RowId,
    body: ReplyIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        conversation = _found(
            await visible_conversation(session, principal, conversation_id),
            f"conversation {conversation_id}",
        )
        message = await hr_actions.reply(
            session, conversation, body.text, actor=principal.actor, now=utcnow()
        )
        return ReplyOut(
            conversation_id=conversation.id, message_id=message.id, at=message.at
        ).model_dump(mode="json")

    return await post.run(body.model_dump(mode="json"), action)


@router.post(
    "/conversations/{conversation_id}/handback",
    response_model=HandbackOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        NOT_FOUND,
        {409: "The conversation is not with HR, or the Idempotency-Key was used otherwise"},
    ),
    summary="Give the conversation back to the bot",
)
async def handback(
    conversation_id: RowId,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        conversation = _found(
            await visible_conversation(session, principal, conversation_id),
            f"conversation {conversation_id}",
        )
        handoff = await hr_actions.hand_back(
            session, conversation, actor=principal.actor, now=utcnow()
        )
        assert handoff.closed_at is not None
        return HandbackOut(
            conversation_id=conversation.id, handed_back_at=handoff.closed_at
        ).model_dump(mode="json")

    return await post.run({}, action)


@router.get(
    "/job-questions",
    response_model=list[JobQuestionOut],
    summary="Job questions in one state (waiting for an answer by default), oldest first",
)
async def list_job_questions(
    session: SessionDep,
    principal: CurrentHR,
    state: JobQuestionState = Query(default=JobQuestionState.PENDING),  # noqa: B008
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[JobQuestionOut]:
    questions = await visible_job_questions(
        session, principal, state, limit=limit, after_id=after_id
    )
    return [JobQuestionOut.of(q) for q in questions]


@router.post(
    "/job-questions/{question_id}/answer",
    response_model=JobQuestionOut,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND, ALREADY_DECIDED),
    summary="Approve an answer: it is sent to the candidate, and may join the knowledge base",
)
async def answer(
    question_id: RowId,
    body: JobAnswerIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        question = _found(
            await visible_job_question(session, principal, question_id),
            f"job question {question_id}",
        )
        await hr_actions.approve_job_question(
            session,
            question,
            body.answer,
            actor=principal.actor,
            save_to_knowledge_base=body.save_to_knowledge_base,
            now=utcnow(),
        )
        return JobQuestionOut.of(question).model_dump(mode="json")

    return await post.run(body.model_dump(mode="json"), action)


@router.post(
    "/job-questions/{question_id}/reject",
    response_model=JobQuestionOut,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND, ALREADY_DECIDED),
    summary="Reject the drafted answer: nothing is sent",
)
async def reject(
    question_id: RowId,
    body: JobRejectIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        question = _found(
            await visible_job_question(session, principal, question_id),
            f"job question {question_id}",
        )
        await hr_actions.reject_job_question(
            session, question, actor=principal.actor, reason=body.reason, now=utcnow()
        )
        return JobQuestionOut.of(question).model_dump(mode="json")

    return await post.run(body.model_dump(mode="json"), action)


@router.get(
    "/hr-tasks", response_model=list[HrTaskOut], summary="What chats asked HR to do, oldest first"
)
async def list_tasks(
    session: SessionDep,
    principal: CurrentHR,
    open_only: bool = Query(default=True, alias="open"),
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[HrTaskOut]:
    """Reschedule requests, withdrawals and hand-offs from the chat, in the caller's teams."""
    tasks = await visible_tasks(
        session, principal, open_only=open_only, limit=limit, after_id=after_id
    )
    return [HrTaskOut.of(t) for t in tasks]


@router.post(
    "/hr-tasks/{task_id}/done",
    response_model=HrTaskOut,
    responses=error_responses(IDEMPOTENT_POST, NOT_FOUND),
    summary="Mark a task done",
)
async def task_done(
    task_id: RowId, post: IdempotentPostDep, session: SessionDep, principal: CurrentHR
) -> JSONResponse:
    async def action() -> Any:
        task = _found(await visible_task(session, principal, task_id), f"task {task_id}")
        await hr_actions.complete_task(session, task, actor=principal.actor, now=utcnow())
        return HrTaskOut.of(task).model_dump(mode="json")

    return await post.run({}, action)
