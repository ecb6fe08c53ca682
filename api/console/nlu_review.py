"""The NLU review: messages the bot misunderstood (every HR user, their teams' only) and the
models retrained on the verdicts (admins: train, compare on the blind sets, accept).

Thin: parse, authorise, call `candor.nlu_review`. Object ids travel in the forms, and each
lookup is team-scoped by the service (another team's message is a 404). Every POST depends
on CheckedForm (CSRF); bad input is a page with the reason (422), never a 500.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from api.console.deps import (
    CheckedForm,
    ConsoleAdmin,
    ConsoleHTTPError,
    ConsoleUser,
    CurrentConsoleUser,
    form_text,
    not_found,
)
from api.console.i18n import N_, _
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from candor.clock import utcnow
from candor.models.nlu_review import MisreadReason, ReviewState
from candor.nlu_review import service, training
from candor.nlu_review.evaluation import (
    BlindSetError,
    BlindSets,
    compare,
    eval_dir,
    load_blind_sets,
)
from candor.settings import Settings

E = TypeVar("E", bound=StrEnum)
router = APIRouter(prefix="/console/nlu-review", include_in_schema=False)

STATE_LABELS = {
    ReviewState.PENDING: N_("To review"),
    ReviewState.APPROVED: N_("Intent assigned"),
    ReviewState.NEW_INTENT: N_("New intent needed"),
    ReviewState.DISMISSED: N_("Dismissed"),
}
REASON_LABELS = {
    MisreadReason.FALLBACK.value: N_("NLU unsure"),
    MisreadReason.HANDOFF_AFTER_MISREAD.value: N_("handed off after a misreading"),
    MisreadReason.FOLLOWED_BY_COMPLAINT.value: N_("complaint followed"),
}


def _choice(kind: type[E], raw: str | None, name: str) -> E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConsoleHTTPError(
            422, _("%(name)s: one of %(allowed)s", name=name, allowed=allowed)
        ) from None


def _number(form: FormData, name: str) -> int:
    raw = form_text(form, name).strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ConsoleHTTPError(422, _("%(name)s: give the number shown on the page", name=name))
    return int(raw)


# -- the queue -------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    user: CurrentConsoleUser,
    session: SessionDep,
    state: str | None = None,
    reason: str | None = None,
    done: str | None = None,
) -> Response:
    return await _queue(
        request,
        user,
        session,
        state=_choice(ReviewState, state, "state") or ReviewState.PENDING,
        reason=_choice(MisreadReason, reason, "reason"),
        done=done,
    )


async def _queue(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    *,
    state: ReviewState = ReviewState.PENDING,
    reason: MisreadReason | None = None,
    done: str | None = None,
    problem: str | None = None,
    problem_item: int | None = None,
    status_code: int = 200,
) -> Response:
    rows = await service.review_queue(session, user.principal, state=state, reason=reason)
    return page(
        request,
        "nlu_review.html",
        user,
        status_code=status_code,
        active="nlu_review",
        rows=rows,
        state=state,
        reason=reason,
        counts=await service.queue_counts(session, user.principal),
        intents=service.known_intents(),
        state_labels=STATE_LABELS,
        reason_labels=REASON_LABELS,
        limit=service.QUEUE_LIMIT,
        done=done,
        problem=problem,
        problem_item=problem_item,
    )


@router.post("/decide")
async def decide(
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    item_id = _number(form, "item_id")
    verdict = _choice(service.Verdict, form_text(form, "verdict"), "verdict")
    if verdict is None:
        raise ConsoleHTTPError(422, _("verdict: choose assign, new intent or dismiss"))
    item = await service.visible_item(session, user.principal, item_id)
    if item is None:
        raise not_found(_("message %(id)s", id=item_id))
    try:
        await service.review(
            session,
            item,
            verdict=verdict,
            intent=form_text(form, "intent"),
            note=form_text(form, "note"),
            blind=_blind_sets(runtime.settings) if verdict is service.Verdict.APPROVE else None,
            actor=user.actor,
            now=utcnow(),
        )
    except service.ReviewError as exc:
        await session.rollback()
        return await _queue(
            request,
            user,
            session,
            problem=str(exc),
            problem_item=item_id,
            status_code=exc.http_status,
        )
    return RedirectResponse(
        f"/console/nlu-review?done={verdict.value}:{item_id}#queue", status_code=303
    )


@router.post("/reopen")
async def reopen(
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    item_id = _number(form, "item_id")
    item = await service.visible_item(session, user.principal, item_id)
    if item is None:
        raise not_found(_("message %(id)s", id=item_id))
    state = item.state
    try:
        await service.reopen(session, item, actor=user.actor, now=utcnow())
    except service.ReviewError as exc:
        return await _queue(
            request,
            user,
            session,
            problem=str(exc),
            problem_item=item_id,
            status_code=exc.http_status,
        )
    return RedirectResponse(
        f"/console/nlu-review?state={state.value}&done=reopen:{item_id}#queue", status_code=303
    )


def _blind_sets(settings: Settings) -> BlindSets:
    try:
        return load_blind_sets(eval_dir(settings))
    except BlindSetError as exc:
        raise ConsoleHTTPError(
            422, _("the blind evaluation sets cannot be read: %(why)s", why=exc)
        ) from exc


# -- models (admins) -------------------------------------------------------------------------


@router.get("/models", response_class=HTMLResponse)
async def models_page(
    request: Request,
    user: ConsoleAdmin,
    session: SessionDep,
    runtime: RuntimeDep,
    done: str | None = None,
) -> Response:
    return await _models(request, user, session, runtime.settings, done=done)


async def _models(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    settings: Settings,
    *,
    done: str | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    overview = await training.overview(session, settings)
    return page(
        request,
        "nlu_review_models.html",
        user,
        status_code=status_code,
        active="nlu_review",
        overview=overview,
        comparisons={
            candidate.id: compare(candidate.figures, candidate.baseline_figures)
            for candidate in overview.candidates
        },
        done=done,
        problem=problem,
    )


async def _model_problem(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    settings: Settings,
    exc: training.ModelError,
) -> Response:
    await session.rollback()
    return await _models(
        request, user, session, settings, problem=str(exc), status_code=exc.http_status
    )


@router.post("/models/train")
async def train(
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    try:
        candidate = await training.train_candidate(
            session, runtime.redis, runtime.settings, actor=user.actor, now=utcnow()
        )
    except training.ModelError as exc:
        return await _model_problem(request, user, session, runtime.settings, exc)
    return RedirectResponse(
        f"/console/nlu-review/models?done=trained:{candidate.id}", status_code=303
    )


@router.post("/models/accept")
async def accept(
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    model_id = _number(form, "model_id")
    try:
        await training.accept(
            session, runtime.redis, runtime.settings, model_id, actor=user.actor, now=utcnow()
        )
    except training.ModelError as exc:
        return await _model_problem(request, user, session, runtime.settings, exc)
    return RedirectResponse(f"/console/nlu-review/models?done=accepted:{model_id}", status_code=303)


@router.post("/models/discard")
async def discard(
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    model_id = _number(form, "model_id")
    try:
        await training.discard(session, model_id, actor=user.actor, now=utcnow())
    except training.ModelError as exc:
        return await _model_problem(request, user, session, runtime.settings, exc)
    return RedirectResponse(
        f"/console/nlu-review/models?done=discarded:{model_id}", status_code=303
    )


@router.post("/models/revert")
async def revert(
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    try:
        await training.revert_to_project_model(
            session, runtime.redis, actor=user.actor, now=utcnow()
        )
    except training.ModelError as exc:
        return await _model_problem(request, user, session, runtime.settings, exc)
    return RedirectResponse("/console/nlu-review/models?done=reverted", status_code=303)
