"""The approval inbox: approve, edit-and-approve (reviewing a diff), reject, bulk approve.

Every write goes through candor.outreach.service, the same as the API, and every lookup
through candor.outreach.queries, so the console sees exactly what the API's caller would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.deps import (
    CheckedForm,
    ConsoleHTTPError,
    CurrentConsoleUser,
    form_text,
    form_textarea,
    not_found,
)
from api.console.i18n import _
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from candor.console.inbox import draft_card, draft_cards, line_diff
from candor.ids import RowId, parse_row_id
from candor.models.outreach import OutreachMessage
from candor.outreach import queries, service
from candor.outreach.context import outreach_context
from candor.outreach.errors import InvalidMessageTransitionError, NoTemplateError
from candor.outreach.templating import TemplateRenderError, TemplateValidationError
from candor.runtime import Runtime
from candor.sla.service import business_today, current_calendar

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_REASON = 2000
MAX_BULK = 200  # as the API's bulk approval


def _sms_sign_name(request: Request) -> str:
    """The SMS signature, counted in the segments a card shows (see candor.console.inbox)."""
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.sms_sign_name or ""


@router.get("")
async def home() -> Response:
    return RedirectResponse("/console/inbox", status_code=303)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    done: str | None = None,
) -> Response:
    calendar = await current_calendar(session)
    cards = await draft_cards(
        session,
        user.principal,
        calendar,
        today=business_today(),
        sms_sign_name=_sms_sign_name(request),
    )
    return page(request, "inbox.html", user, cards=cards, done=done)


async def _visible(
    session: SessionDep, user: CurrentConsoleUser, message_id: RowId, *, for_update: bool = False
) -> OutreachMessage:
    message = await queries.visible_message(
        session, user.principal, message_id, for_update=for_update
    )
    if message is None:
        raise not_found(_("message %(id)s", id=message_id))
    return message


@router.get("/messages/{message_id}", response_class=HTMLResponse)
async def message_page(
    message_id: RowId, request: Request, user: CurrentConsoleUser, session: SessionDep
) -> Response:
    message = await _visible(session, user, message_id)
    return await _message_page(request, user, session, message)


async def _message_page(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    message: OutreachMessage,
    *,
    status_code: int = 200,
    error: str | None = None,
    problems: list[str] | None = None,
    edit: tuple[str, str] | None = None,
) -> Response:
    calendar = await current_calendar(session)
    card = await draft_card(
        session,
        message,
        calendar,
        today=business_today(),
        sms_sign_name=_sms_sign_name(request),
    )
    transitions = await queries.message_history(session, message.id)
    subject, body = edit if edit is not None else (message.subject, message.body)
    diff = line_diff(message.body, body) if edit is not None else None
    subject_changed = edit is not None and subject != message.subject
    return page(
        request,
        "message.html",
        user,
        status_code=status_code,
        card=card,
        transitions=transitions,
        error=error,
        problems=problems or [],
        edit_subject=subject,
        edit_body=body,
        diff=diff,
        subject_changed=subject_changed,
    )


async def _decide(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    message: OutreachMessage,
    decision: Callable[[], Awaitable[object]],
    *,
    done: str,
) -> Response:
    """Make the decision and go back to the inbox; a message someone else decided meanwhile
    is shown again with the conflict."""
    try:
        await decision()
    except InvalidMessageTransitionError as exc:
        return await _message_page(request, user, session, message, status_code=409, error=str(exc))
    return RedirectResponse(f"/console/inbox?done={done}:{message.id}", status_code=303)


@router.post("/messages/{message_id}/approve")
async def approve(
    message_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    message = await _visible(session, user, message_id, for_update=True)

    async def decision() -> None:
        context = await outreach_context(session, runtime.settings)
        await service.approve(session, message, context, actor=user.actor)

    return await _decide(request, user, session, message, decision, done="approved")


@router.post("/messages/{message_id}/edit-and-approve")
async def edit_and_approve(
    message_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Without `confirm`, shows the diff of the edit for review; with it, approves."""
    message = await _visible(session, user, message_id, for_update=True)
    subject = form_text(form, "subject", default=message.subject).strip()
    body = form_textarea(form, "body", default=message.body)
    problems = []
    if not subject or len(subject) > 300:
        problems.append(_("the subject must be 1 to 300 characters"))
    if not body.strip():
        problems.append(_("the message cannot be empty"))
    if problems or form_text(form, "confirm") != "1":
        return await _message_page(
            request,
            user,
            session,
            message,
            status_code=422 if problems else 200,
            problems=problems,
            edit=(subject, body),
        )

    async def decision() -> None:
        context = await outreach_context(session, runtime.settings)
        await service.approve(
            session, message, context, actor=user.actor, edited_body=body, edited_subject=subject
        )

    try:
        return await _decide(request, user, session, message, decision, done="edited")
    except TemplateValidationError as exc:
        # Raised before anything changed: the message is still the pending draft.
        return await _message_page(
            request,
            user,
            session,
            message,
            status_code=422,
            problems=exc.problems,
            edit=(subject, body),
        )


@router.post("/messages/{message_id}/redraft")
async def redraft(
    message_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Draft a message that needs attention again, with the (fixed) current template."""
    message = await _visible(session, user, message_id, for_update=True)

    async def decision() -> None:
        context = await outreach_context(session, runtime.settings)
        await service.redraft(session, message, context, actor=user.actor)

    try:
        return await _decide(request, user, session, message, decision, done="redrafted")
    except (TemplateRenderError, NoTemplateError) as exc:
        # Raised before anything changed: the message still needs attention.
        return await _message_page(
            request,
            user,
            session,
            message,
            status_code=exc.http_status,
            problems=[_("still cannot draft it: %(why)s", why=exc.message)],
        )


@router.post("/messages/{message_id}/reject")
async def reject(
    message_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    message = await _visible(session, user, message_id, for_update=True)
    reason = form_text(form, "reason").strip()
    if not reason or len(reason) > MAX_REASON:
        return await _message_page(
            request,
            user,
            session,
            message,
            status_code=422,
            problems=[_("give a reason for rejecting (1 to %(n)s characters)", n=MAX_REASON)],
        )

    async def decision() -> None:
        await service.reject(session, message, actor=user.actor, reason=reason)

    return await _decide(request, user, session, message, decision, done="rejected")


@router.post("/messages/bulk-approve")
async def bulk_approve(
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    parsed = [parse_row_id(value) for value in form.getlist("message_id") if isinstance(value, str)]
    requested = [message_id for message_id in parsed if message_id is not None]
    if len(requested) > MAX_BULK:
        raise ConsoleHTTPError(422, _("approve at most %(n)s messages at a time", n=MAX_BULK))
    messages = [
        message
        for message_id in dict.fromkeys(requested)
        if (
            message := await queries.visible_message(
                session, user.principal, message_id, for_update=True
            )
        )
        is not None
    ]
    context = await outreach_context(session, runtime.settings)
    approved, not_found_ids, conflicts = await service.bulk_approve(
        session, messages, requested, context, actor=user.actor
    )
    summary = f"bulk:{len(approved)}:{len(not_found_ids) + len(conflicts)}"
    return RedirectResponse(f"/console/inbox?done={summary}", status_code=303)
