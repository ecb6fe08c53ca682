"""HR in the conversation: reply to a candidate, hand the conversation back to the bot, and
answer the job questions the bot could not. Team-scoped; every POST takes an
`Idempotency-Key`. Replies are written with their delivery row and sent after commit; every
decision is audited by `candor.dialogue.hr_actions`, as in the console."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentHR, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, ApiError, error_responses
from api.idempotent import IdempotentPostDep
from api.paging import DEFAULT_PAGE_SIZE, AfterId, PageLimit
from candor.clock import utcnow
from candor.console import conversations as views
from candor.dialogue import hr_actions
from candor.dialogue.hr import (
    ConversationOut,
    HandbackOut,
    HandoffOut,
    HrTaskOut,
    JobAnswerIn,
    JobQuestionOut,
    JobRejectIn,
    ReplyIn,
    ReplyOut,
    TranscriptLineOut,
    open_handoffs,
    visible_conversation,
    visible_job_question,
    visible_job_questions,
    visible_task,
    visible_tasks,
)
from candor.ids import RowCursor, RowId
from candor.models.dialogue import JobQuestionState
from candor.outreach.queries import visible_application

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
    description=(
        "Each with how long it has been waiting and the conversation's last message you "
        "may read (who wrote it and when)."
    ),
)
async def list_handoffs(
    session: SessionDep,
    principal: CurrentHR,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after_id: AfterId = None,
) -> list[HandoffOut]:
    return await open_handoffs(session, principal, limit=limit, after_id=after_id)


@router.get(
    "/conversations",
    response_model=list[ConversationOut],
    responses=error_responses(
        {
            404: "No such candidate or application in your teams",
            422: "Give exactly one of `candidate_id` and `application_code` (`one_lookup`)",
        }
    ),
    summary="A candidate's conversations (one per chat account), by candidate or application",
)
async def find_conversations(
    session: SessionDep,
    principal: CurrentHR,
    runtime: RuntimeDep,
    candidate_id: Annotated[RowCursor | None, Query(description="The candidate's id")] = None,
    application_code: Annotated[
        str | None, Query(max_length=64, description="An application code, e.g. AP-2026-0001")
    ] = None,
) -> list[ConversationOut]:
    if (candidate_id is None) == (application_code is None):
        raise ApiError(422, "one_lookup", "give exactly one of candidate_id and application_code")
    if application_code is not None:
        code = application_code.strip().upper()
        application = _found(
            await visible_application(session, principal, code), f"application {code}"
        )
        candidate_id = application.candidate_id
    assert candidate_id is not None
    _found(
        await views.visible_candidate(session, principal, candidate_id),
        f"candidate {candidate_id}",
    )
    await hr_actions.candidate_viewed(
        session,
        actor=principal.actor,
        candidate_id=candidate_id,
        what="conversations",
        via="api",
        now=utcnow(),
        window=runtime.settings.access_audit_window,
    )
    return await views.candidate_conversations_out(session, principal, candidate_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=list[TranscriptLineOut],
    responses=error_responses(
        NOT_FOUND, {422: "`after` is not a cursor of this API (`bad_cursor`)"}
    ),
    summary="The transcript, oldest first: the candidate's on every channel (paged by `cursor`)",
    description=(
        "A bound conversation reads as its candidate's whole transcript: their chat messages "
        "on every channel and their results as delivered by e-mail, WeChat or Telegram. "
        "Only the messages about your teams' applications (or none) are listed. Reads are "
        "audited (`transcript.read`), once per reader and candidate per "
        "`CANDOR_ACCESS_AUDIT_WINDOW_MINUTES`."
    ),
)
async def conversation_messages(
    conversation_id: RowId,
    session: SessionDep,
    principal: CurrentHR,
    runtime: RuntimeDep,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    after: Annotated[
        str | None,
        Query(max_length=64, description="The last `cursor` of the previous page"),
    ] = None,
) -> list[TranscriptLineOut]:
    conversation = _found(
        await visible_conversation(session, principal, conversation_id),
        f"conversation {conversation_id}",
    )
    key = views.TRANSCRIPT_START if after is None else views.LineKey.parse(after)
    if key is None:
        raise ApiError(422, "bad_cursor", "`after` takes a `cursor` from a previous page")
    lines = await hr_actions.read_transcript(
        session,
        principal,
        conversation,
        after=key,
        limit=limit,
        now=utcnow(),
        window=runtime.settings.access_audit_window,
    )
    return [views.line_out(line) for line in lines]


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
