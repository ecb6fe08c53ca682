"""Access administration pages (admins only): HR users, API tokens and teams.

Thin: each handler parses the form, calls one `candor.access` service and either
redirects with a status line or re-renders the page with the problems next to their fields
(422, nothing written). Everyone but an admin gets 403 before any lookup, as on the audit
page.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.console.deps import CheckedForm, ConsoleAdmin, ConsoleHTTPError, ConsoleUser, form_text
from api.console.i18n import N_, _
from api.console.rendering import page
from api.deps import RedisDep, SessionDep
from candor.access import teams as team_service
from candor.access import tokens as token_service
from candor.access import users as user_service
from candor.access.errors import AccessInputError, AccessNotFoundError
from candor.auth.passwords import MIN_LENGTH
from candor.auth.tokens import KNOWN_SCOPES, Scope
from candor.ids import RowId, parse_row_id
from candor.models.enums import Role

router = APIRouter(prefix="/console/admin", include_in_schema=False)

# The status line shown after a change, by the `done` query parameter.
DONE = {
    "created": N_("User created."),
    "updated": N_("Saved."),
    "deactivated": N_("Deactivated: their sessions ended and their personal tokens were revoked."),
    "reactivated": N_("Reactivated. Personal tokens revoked at deactivation stay revoked."),
    "password": N_("Password set; their sessions ended."),
    "unlocked": N_("Login delays cleared."),
    "revoked": N_("Token revoked: requests with it are refused from now on."),
    "team_created": N_("Team created."),
    "team_renamed": N_("Team renamed."),
}


def _ids(form: FormData, name: str, problems: dict[str, str]) -> list[int]:
    ids: list[int] = []
    for value in form.getlist(name):
        row_id = parse_row_id(value) if isinstance(value, str) else None
        if row_id is not None:
            ids.append(row_id)
        elif value != "":
            problems[name] = _("not an id: %(value)r", value=value)
    return ids


def _optional_id(form: FormData, name: str, problems: dict[str, str]) -> int | None:
    value = form_text(form, name).strip()
    if not value:
        return None
    row_id = parse_row_id(value)
    if row_id is None:
        problems[name] = _("not an id: %(value)r", value=value)
    return row_id


def _not_found(exc: AccessNotFoundError) -> ConsoleHTTPError:
    return ConsoleHTTPError(404, str(exc))


def _redirect(path: str, done: str) -> Response:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def _done(request: Request) -> str | None:
    done = DONE.get(request.query_params.get("done", ""))
    return _(done) if done else None


# --- users -----------------------------------------------------------------------------


async def _users_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    redis: RedisDep,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "admin_users.html",
        user,
        status_code=status_code,
        active="admin",
        rows=await user_service.list_users(session, redis),
        teams=await team_service.list_teams(session),
        roles=list(Role),
        form=form or {"role": Role.RECRUITER.value, "team_ids": []},
        problems=problems or {},
        min_password=MIN_LENGTH,
        done=_done(request),
    )


@router.get("/users", response_class=HTMLResponse)
async def users_page(
    request: Request, user: ConsoleAdmin, session: SessionDep, redis: RedisDep
) -> Response:
    return await _users_page(request, user, session, redis)


@router.post("/users")
async def create_user(
    request: Request, user: ConsoleAdmin, form: CheckedForm, session: SessionDep, redis: RedisDep
) -> Response:
    problems: dict[str, str] = {}
    team_ids = _ids(form, "team_ids", problems)
    values: dict[str, Any] = {
        "email": form_text(form, "email"),
        "display_name": form_text(form, "display_name"),
        "role": form_text(form, "role"),
        "team_ids": team_ids,
    }
    try:
        if problems:
            raise AccessInputError(problems)
        created = await user_service.create_user(
            session,
            actor=user.actor,
            email=values["email"],
            display_name=values["display_name"],
            role=values["role"],
            team_ids=team_ids,
            password=form_text(form, "password"),
        )
    except AccessInputError as exc:
        await session.rollback()
        # The password is never echoed back into the form.
        return await _users_page(
            request, user, session, redis, form=values, problems=exc.problems, status_code=422
        )
    return _redirect(f"/console/admin/users/{created.id}", "created")


async def _user_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    redis: RedisDep,
    user_id: RowId,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        row = await user_service.get_user_row(session, redis, user_id)
    except AccessNotFoundError as exc:
        raise _not_found(exc) from exc
    tokens = [r for r in await token_service.list_tokens(session) if r.token.hr_user_id == user_id]
    return page(
        request,
        "admin_user.html",
        user,
        status_code=status_code,
        active="admin",
        row=row,
        tokens=tokens,
        teams=await team_service.list_teams(session),
        roles=list(Role),
        form=form
        or {
            "display_name": row.user.display_name,
            "role": row.user.role.value,
            "team_ids": [t.id for t in row.teams],
        },
        problems=problems or {},
        min_password=MIN_LENGTH,
        is_self=row.user.id == user.principal.user_id,
        done=_done(request),
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
async def user_page(
    user_id: RowId, request: Request, user: ConsoleAdmin, session: SessionDep, redis: RedisDep
) -> Response:
    return await _user_page(request, user, session, redis, user_id)


@router.post("/users/{user_id}")
async def update_user(
    user_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    problems: dict[str, str] = {}
    team_ids = _ids(form, "team_ids", problems)
    values: dict[str, Any] = {
        "display_name": form_text(form, "display_name"),
        "role": form_text(form, "role"),
        "team_ids": team_ids,
    }

    async def call() -> None:
        if problems:
            raise AccessInputError(problems)
        await user_service.update_user(
            session,
            actor=user.actor,
            user_id=user_id,
            display_name=values["display_name"],
            role=values["role"],
            team_ids=team_ids,
        )

    return await _user_action(request, user, session, redis, user_id, "updated", call(), values)


async def _user_action(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    redis: RedisDep,
    user_id: RowId,
    done: str,
    action: Awaitable[object],
    form: dict[str, Any] | None = None,
) -> Response:
    """Run one service call on a user; a refusal is shown on the user's page, with nothing
    written (the transaction is rolled back)."""
    try:
        await action
    except AccessNotFoundError as exc:
        raise _not_found(exc) from exc
    except AccessInputError as exc:
        await session.rollback()
        return await _user_page(
            request,
            user,
            session,
            redis,
            user_id,
            form=form,
            problems=exc.problems,
            status_code=422,
        )
    return _redirect(f"/console/admin/users/{user_id}", done)


@router.post("/users/{user_id}/deactivate")
async def deactivate_user(
    user_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    call = user_service.deactivate_user(session, redis, actor=user.actor, user_id=user_id)
    return await _user_action(request, user, session, redis, user_id, "deactivated", call)


@router.post("/users/{user_id}/reactivate")
async def reactivate_user(
    user_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    call = user_service.reactivate_user(session, actor=user.actor, user_id=user_id)
    return await _user_action(request, user, session, redis, user_id, "reactivated", call)


@router.post("/users/{user_id}/password")
async def reset_password(
    user_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    call = user_service.reset_password(
        session,
        redis,
        actor=user.actor,
        user_id=user_id,
        password=form_text(form, "password"),
        keep_session=user.session_id,  # only matters for one's own password
    )
    return await _user_action(request, user, session, redis, user_id, "password", call)


@router.post("/users/{user_id}/unlock")
async def clear_lockout(
    user_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    call = user_service.clear_lockout(session, redis, actor=user.actor, user_id=user_id)
    return await _user_action(request, user, session, redis, user_id, "unlocked", call)


# --- API tokens ------------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    redis: RedisDep,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    issued: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    users = [r.user for r in await user_service.list_users(session, redis) if r.user.is_active]
    return page(
        request,
        "admin_tokens.html",
        user,
        status_code=status_code,
        active="admin",
        rows=await token_service.list_tokens(session),
        users=users,
        scopes=[(s, token_service.SCOPE_HELP[s]) for s in sorted(KNOWN_SCOPES)],
        hr_scope=Scope.HR,
        form=form or {"scopes": []},
        problems=problems or {},
        issued=issued,
        done=_done(request),
    )


@router.get("/tokens", response_class=HTMLResponse)
async def tokens_page(
    request: Request, user: ConsoleAdmin, session: SessionDep, redis: RedisDep
) -> Response:
    return await _tokens_page(request, user, session, redis)


@router.post("/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request, user: ConsoleAdmin, form: CheckedForm, session: SessionDep, redis: RedisDep
) -> Response:
    """The new token's plaintext is in this response only (never in a URL, a log or the
    audit row): the page is not cached, and reloading the list does not show it again."""
    problems: dict[str, str] = {}
    hr_user_id = _optional_id(form, "hr_user_id", problems)
    values: dict[str, Any] = {
        "name": form_text(form, "name"),
        "scopes": [s for s in form.getlist("scopes") if isinstance(s, str)],
        "hr_user_id": hr_user_id,
    }
    try:
        if problems:
            raise AccessInputError(problems)
        issued = await token_service.create_token(
            session,
            actor=user.actor,
            name=values["name"],
            scopes=values["scopes"],
            hr_user_id=hr_user_id,
        )
    except AccessInputError as exc:
        await session.rollback()
        return await _tokens_page(
            request, user, session, redis, form=values, problems=exc.problems, status_code=422
        )
    shown = {"id": issued.token_id, "name": values["name"].strip(), "plaintext": issued.plaintext}
    return await _tokens_page(request, user, session, redis, issued=shown, status_code=201)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: RowId,
    request: Request,
    user: ConsoleAdmin,
    _form: CheckedForm,
    session: SessionDep,
    redis: RedisDep,
) -> Response:
    try:
        await token_service.revoke(session, actor=user.actor, token_id=token_id)
    except AccessNotFoundError as exc:
        raise _not_found(exc) from exc
    except AccessInputError as exc:
        await session.rollback()
        return await _tokens_page(
            request, user, session, redis, problems=exc.problems, status_code=409
        )
    return _redirect("/console/admin/tokens", "revoked")


# --- teams -----------------------------------------------------------------------------


async def _teams_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "admin_teams.html",
        user,
        status_code=status_code,
        active="admin",
        rows=await team_service.list_teams(session),
        form=form or {},
        problems=problems or {},
        done=_done(request),
    )


@router.get("/teams", response_class=HTMLResponse)
async def teams_page(request: Request, user: ConsoleAdmin, session: SessionDep) -> Response:
    return await _teams_page(request, user, session)


@router.post("/teams")
async def create_team(
    request: Request, user: ConsoleAdmin, form: CheckedForm, session: SessionDep
) -> Response:
    values = {"external_id": form_text(form, "external_id"), "name": form_text(form, "name")}
    try:
        await team_service.create_team(
            session, actor=user.actor, external_id=values["external_id"], name=values["name"]
        )
    except AccessInputError as exc:
        await session.rollback()
        return await _teams_page(
            request, user, session, form=values, problems=exc.problems, status_code=422
        )
    return _redirect("/console/admin/teams", "team_created")


@router.post("/teams/{team_id}")
async def rename_team(
    team_id: RowId, request: Request, user: ConsoleAdmin, form: CheckedForm, session: SessionDep
) -> Response:
    try:
        await team_service.rename_team(
            session, actor=user.actor, team_id=team_id, name=form_text(form, "name")
        )
    except AccessNotFoundError as exc:
        raise _not_found(exc) from exc
    except AccessInputError as exc:
        await session.rollback()
        problems = {f"rename-{team_id}": exc.problems.get("name", str(exc))}
        return await _teams_page(request, user, session, problems=problems, status_code=422)
    return _redirect("/console/admin/teams", "team_renamed")
