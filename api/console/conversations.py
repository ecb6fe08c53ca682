"""Conversations: the handoff queue, a candidate's transcript across channels with HR's
reply and hand-back, their bound chat accounts (unbind), the bot's drafted answers to job
questions (approve, edit and approve, reject), HR tasks from the chat, and escalations.

Every lookup is team-scoped through the chat side's own queries (another team's object is
a 404) and every write goes through `candor.dialogue.hr_actions`, the same audited
functions the API calls. Every POST depends on CheckedForm (CSRF).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.console.deps import (
    CheckedForm,
    ConsoleHTTPError,
    ConsoleUser,
    CurrentConsoleUser,
    form_text,
    form_textarea,
    not_found,
)
from api.console.i18n import _
from api.console.rendering import page
from api.deps import SessionDep
from candor.auth.scope import visible_teams
from candor.chat.teams import team_of_candidate
from candor.clock import utcnow
from candor.console import conversations as views
from candor.dialogue import hr_actions
from candor.dialogue.hr import (
    open_handoffs,
    visible_conversation,
    visible_job_question,
    visible_job_questions,
    visible_task,
    visible_tasks,
)
from candor.dialogue.service import DialogueError, JobQuestionClosedError, NotHandedOffError
from candor.ids import RowId
from candor.models import Candidate, Conversation, HrTask, JobQuestion
from candor.models.dialogue import JobQuestionState
from candor.outreach.queries import visible_application
from candor.privacy import deletion
from candor.privacy import service as privacy

router = APIRouter(prefix="/console", include_in_schema=False)


def _page_of(conversation: Conversation) -> str:
    """Where a conversation is shown: its candidate's page, or its own when unbound."""
    if conversation.candidate_id is not None:
        return f"/console/candidates/{conversation.candidate_id}"
    return f"/console/conversations/{conversation.id}"


async def _conversation(
    session: AsyncSession, user: ConsoleUser, conversation_id: int
) -> Conversation:
    conversation = await visible_conversation(session, user.principal, conversation_id)
    if conversation is None:
        raise not_found(_("conversation %(id)s", id=conversation_id))
    return conversation


@router.get("/conversations", response_class=HTMLResponse)
async def conversations_page(
    request: Request, user: CurrentConsoleUser, session: SessionDep, done: str | None = None
) -> Response:
    queue = await views.handoff_queue(session, user.principal)
    recent = await views.recent_conversations(session, user.principal)
    questions = await visible_job_questions(session, user.principal, JobQuestionState.PENDING)
    tasks = await visible_tasks(session, user.principal, open_only=True)
    return page(
        request,
        "conversations.html",
        user,
        active="conversations",
        tab="handoffs",
        queue=queue,
        recent=recent,
        counts=_counts(len(queue), len(questions), len(tasks)),
        escalations_tab=views.sees_escalations(user.principal),
        done=done,
    )


def _counts(handoffs: int, questions: int, tasks: int) -> dict[str, int]:
    return {"handoffs": handoffs, "questions": questions, "tasks": tasks}


async def _tab_counts(
    session: AsyncSession,
    user: ConsoleUser,
    *,
    questions: Sequence[JobQuestion] | None = None,
    tasks: Sequence[HrTask] | None = None,
) -> dict[str, int]:
    """The tabs' counts; a page passes the lists it has loaded already."""
    if questions is None:
        questions = await visible_job_questions(session, user.principal, JobQuestionState.PENDING)
    if tasks is None:
        tasks = await visible_tasks(session, user.principal, open_only=True)
    return _counts(len(await open_handoffs(session, user.principal)), len(questions), len(tasks))


async def _candidates_of(
    session: AsyncSession, rows: Sequence[JobQuestion] | Sequence[HrTask]
) -> dict[int, Candidate]:
    """The candidates the rows are about, in one query."""
    ids = {row.candidate_id for row in rows if row.candidate_id is not None}
    return await views.candidates_by_id(session, ids)


# -- one candidate's (or one unbound account's) conversation -------------------------------


async def _transcript_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    *,
    candidate: Candidate | None,
    conversation: Conversation | None,
    status_code: int = 200,
    problem: str | None = None,
    problem_conversation: int | None = None,
    draft: str = "",
    done: str | None = None,
) -> Response:
    history: list[views.AccountEvent] = []
    visible = visible_teams(user.principal)
    if candidate is not None:
        accounts = await views.bound_accounts(session, visible, candidate.id)
        history = await views.account_history(session, visible, candidate.id)
        conversation_ids = [a.conversation_id for a in accounts if a.conversation_id is not None]
        lines = await views.transcript(session, visible, candidate_id=candidate.id)
        hidden = await views.hidden_message_count(session, visible, candidate_id=candidate.id)
    else:
        assert conversation is not None
        accounts = []
        conversation_ids = [conversation.id]
        lines = await views.transcript(
            session, visible, candidate_id=None, conversation_id=conversation.id
        )
        hidden = await views.hidden_message_count(
            session, visible, candidate_id=None, conversation_id=conversation.id
        )
    await hr_actions.transcript_read(
        session,
        actor=user.principal.actor,
        candidate_id=candidate.id if candidate is not None else None,
        conversation=conversation,
        lines=len(lines),
        via="console",
        now=utcnow(),
        window=request.app.state.runtime.settings.access_audit_window,
    )
    with_hr = await views.open_handoff_ids(session, conversation_ids)
    names = await views.actor_names(session, lines)
    questions = [
        q
        for q in await visible_job_questions(session, user.principal, JobQuestionState.PENDING)
        if q.conversation_id in conversation_ids
    ]
    deletion_request = (
        await deletion.latest_request(session, candidate.id, lock=False)
        if candidate is not None and user.principal.is_admin
        else None
    )
    return page(
        request,
        "conversation.html",
        user,
        status_code=status_code,
        active="conversations",
        candidate=candidate,
        conversation=conversation,
        accounts=accounts,
        history=history,
        conversation_ids=conversation_ids,
        with_hr=with_hr,
        lines=lines,
        hidden=hidden,
        truncated=len(lines) >= views.TRANSCRIPT_LIMIT,
        names=names,
        questions=questions,
        problem=problem,
        problem_conversation=problem_conversation,
        draft=draft,
        done=done,
        deletion=deletion_request,
    )


@router.get("/candidates")
async def find_candidate(user: CurrentConsoleUser, session: SessionDep, code: str = "") -> Response:
    """The conversation page of the candidate behind an application code."""
    application = await visible_application(session, user.principal, code.strip().upper())
    if application is None or (
        await views.visible_candidate(session, user.principal, application.candidate_id) is None
    ):
        raise not_found(_("application %(id)r", id=code.strip()[:32]))
    return RedirectResponse(f"/console/candidates/{application.candidate_id}", status_code=303)


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
async def candidate_page(
    candidate_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    candidate = await views.visible_candidate(session, user.principal, candidate_id)
    if candidate is None:
        raise not_found(_("candidate %(id)s", id=candidate_id))
    return await _transcript_page(
        request, user, session, candidate=candidate, conversation=None, done=done
    )


@router.post("/candidates/{candidate_id}/export")
async def export_candidate(
    candidate_id: RowId, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    """The JSON copy of the candidate's data the user may see (their teams'), audited."""
    try:
        content = await privacy.export_for_hr(
            session, user.principal, candidate_id, via="console", now=utcnow()
        )
    except privacy.CandidateNotVisibleError as exc:
        raise not_found(_("candidate %(id)s", id=candidate_id)) from exc
    return Response(
        json.dumps(content, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="candidate-{candidate_id}-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    conversation_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    conversation = await _conversation(session, user, conversation_id)
    if conversation.candidate_id is not None:
        return RedirectResponse(f"{_page_of(conversation)}#c{conversation.id}", status_code=303)
    return await _transcript_page(
        request, user, session, candidate=None, conversation=conversation, done=done
    )


async def _rerender(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    conversation: Conversation,
    *,
    status_code: int,
    problem: str,
    draft: str = "",
) -> Response:
    candidate = await views.conversation_candidate(session, conversation)
    return await _transcript_page(
        request,
        user,
        session,
        candidate=candidate,
        conversation=None if candidate is not None else conversation,
        status_code=status_code,
        problem=problem,
        problem_conversation=conversation.id,
        draft=draft,
    )


@router.post("/conversations/{conversation_id}/reply")
async def reply(
    conversation_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    conversation = await _conversation(session, user, conversation_id)
    text = form_textarea(form, "text")
    try:
        await hr_actions.reply(session, conversation, text, actor=user.actor, now=utcnow())
    except DialogueError as exc:
        return await _rerender(
            request, user, session, conversation, status_code=422, problem=str(exc), draft=text
        )
    return RedirectResponse(
        f"{_page_of(conversation)}?done=replied#c{conversation.id}", status_code=303
    )


@router.post("/conversations/{conversation_id}/handback")
async def handback(
    conversation_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    conversation = await _conversation(session, user, conversation_id)
    try:
        await hr_actions.hand_back(session, conversation, actor=user.actor, now=utcnow())
    except NotHandedOffError as exc:
        return await _rerender(
            request, user, session, conversation, status_code=409, problem=str(exc)
        )
    return RedirectResponse(
        f"{_page_of(conversation)}?done=handed_back#c{conversation.id}", status_code=303
    )


@router.post("/identities/{identity_id}/unbind")
async def unbind(
    identity_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    identity = await views.visible_identity(session, user.principal, identity_id)
    if identity is None:
        raise not_found(_("chat account %(id)s", id=identity_id))
    candidate_id = identity.candidate_id
    assert candidate_id is not None  # visible_identity
    await hr_actions.unbind_identity(
        session,
        identity,
        actor=user.actor,
        via="console",
        team_id=await team_of_candidate(session, candidate_id),
        now=utcnow(),
    )
    return RedirectResponse(
        f"/console/candidates/{candidate_id}?done=unbound:{identity.channel.value}",
        status_code=303,
    )


# -- the bot's drafted answers to job questions --------------------------------------------


@router.get("/job-questions", response_class=HTMLResponse)
async def job_questions_page(
    request: Request, user: CurrentConsoleUser, session: SessionDep, done: str | None = None
) -> Response:
    return await _questions_page(request, user, session, done=done)


async def _question_problem(
    request: Request, user: ConsoleUser, session: AsyncSession, status_code: int, problem: str
) -> Response:
    return await _questions_page(request, user, session, status_code=status_code, problem=problem)


async def _questions_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    *,
    status_code: int = 200,
    done: str | None = None,
    problem: str | None = None,
) -> Response:
    questions = await visible_job_questions(session, user.principal, JobQuestionState.PENDING)
    return page(
        request,
        "job_questions.html",
        user,
        status_code=status_code,
        active="conversations",
        tab="questions",
        questions=questions,
        candidates=await _candidates_of(session, questions),
        counts=await _tab_counts(session, user, questions=questions),
        escalations_tab=views.sees_escalations(user.principal),
        done=done,
        problem=problem,
    )


@router.post("/job-questions/{question_id}/approve")
async def approve_question(
    question_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    question = await visible_job_question(session, user.principal, question_id)
    if question is None:
        raise not_found(_("job question %(id)s", id=question_id))
    answer = form_textarea(form, "answer", default=question.draft or "")
    try:
        await hr_actions.approve_job_question(
            session,
            question,
            answer,
            actor=user.actor,
            save_to_knowledge_base=form_text(form, "save_to_knowledge_base") == "1",
            now=utcnow(),
        )
    except JobQuestionClosedError as exc:
        return await _question_problem(request, user, session, 409, str(exc))
    except DialogueError as exc:
        await session.rollback()  # the answer was refused before anything was sent
        return await _question_problem(request, user, session, 422, str(exc))
    return RedirectResponse(f"/console/job-questions?done=approved:{question.id}", status_code=303)


@router.post("/job-questions/{question_id}/reject")
async def reject_question(
    question_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    question = await visible_job_question(session, user.principal, question_id)
    if question is None:
        raise not_found(_("job question %(id)s", id=question_id))
    try:
        await hr_actions.reject_job_question(
            session, question, actor=user.actor, reason=form_text(form, "reason"), now=utcnow()
        )
    except JobQuestionClosedError as exc:
        return await _question_problem(request, user, session, 409, str(exc))
    except DialogueError as exc:
        return await _question_problem(request, user, session, 422, str(exc))
    return RedirectResponse(f"/console/job-questions?done=rejected:{question.id}", status_code=303)


# -- HR tasks from the chat ------------------------------------------------------------------


@router.get("/hr-tasks", response_class=HTMLResponse)
async def tasks_page(
    request: Request, user: CurrentConsoleUser, session: SessionDep, done: str | None = None
) -> Response:
    tasks = await visible_tasks(session, user.principal, open_only=True)
    return page(
        request,
        "hr_tasks.html",
        user,
        active="conversations",
        tab="tasks",
        tasks=tasks,
        candidates=await _candidates_of(session, tasks),
        counts=await _tab_counts(session, user, tasks=tasks),
        escalations_tab=views.sees_escalations(user.principal),
        done=done,
    )


@router.post("/hr-tasks/{task_id}/done")
async def task_done(
    task_id: RowId, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    task = await visible_task(session, user.principal, task_id)
    if task is None:
        raise not_found(_("task %(id)s", id=task_id))
    await hr_actions.complete_task(session, task, actor=user.actor, now=utcnow())
    return RedirectResponse(f"/console/hr-tasks?done=done:{task.id}", status_code=303)


# -- escalations -----------------------------------------------------------------------------


@router.get("/escalations", response_class=HTMLResponse)
async def escalations_page(
    request: Request, user: CurrentConsoleUser, session: SessionDep
) -> Response:
    if not views.sees_escalations(user.principal):
        raise ConsoleHTTPError(403, _("escalations are for team leads and admins"))
    return page(
        request,
        "escalations.html",
        user,
        active="conversations",
        tab="escalations",
        escalations=await views.escalations(session, user.principal),
        counts=await _tab_counts(session, user),
        escalations_tab=True,
    )
