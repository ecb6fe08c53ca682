"""Logging in and out of the console."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.deps import SESSION_COOKIE, CheckedForm, CurrentConsoleUser, form_text
from api.console.i18n import LOCALE_COOKIE, _, ngettext, normalise, use_locale
from api.console.rendering import page
from api.deps import RedisDep, RuntimeDep, SessionDep
from candor.access import users as user_service
from candor.auth import sessions, throttle
from candor.auth.login import LoginError, login
from candor.settings import Environment

router = APIRouter(prefix="/console", include_in_schema=False)
# Before login there is no session to bind a CSRF token to, so the login form uses a
# double-submit cookie: the form field must equal this cookie, which other sites cannot read.
LOGIN_CSRF_COOKIE = "candor_login_csrf"
# Marks a browser the user has logged in with, which failures elsewhere do not slow down
# (candor/auth/throttle.py). Only the login form needs it.
DEVICE_COOKIE = "candor_device"


def _secure(runtime: RuntimeDep) -> bool:
    return runtime.settings.env is not Environment.DEVELOPMENT


def _safe_next(next_path: str | None) -> str:
    """Only same-site console paths, so the login form cannot redirect elsewhere."""
    if next_path and next_path.startswith("/console") and not next_path.startswith("//"):
        return next_path
    return "/console/inbox"


def _login_form(
    request: Request,
    runtime: RuntimeDep,
    *,
    error: str | None = None,
    email: str = "",
    next_path: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        error=error,
        email=email,
        next_path=_safe_next(next_path),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
        path="/console/login",
    )
    return response


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


def _login_error_text(exc: LoginError) -> str:
    """The domain's refusal, said in the page's language."""
    wait = _wait_text(exc.retry_after_seconds or 0)
    if exc.reason == "rate":
        return _("too many login attempts from this address; wait a minute")
    if exc.reason == "pair":
        return _(
            "too many failed logins for this account from here; try again in %(wait)s",
            wait=wait,
        )
    if exc.reason == "account":
        return _(
            "too many failed logins for this account from unknown devices; try again in "
            "%(wait)s, or from a browser you have logged in with before",
            wait=wait,
        )
    if exc.reason == "address":
        return _("too many failed logins from this address; try again in %(wait)s", wait=wait)
    return _("unknown e-mail address or wrong password")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    return _login_form(request, runtime, next_path=next)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    redis: RedisDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not sessions.csrf_matches(cookie, csrf_token):
        return _login_form(
            request,
            runtime,
            error=_("the login form expired; please try again"),
            email=email,
            next_path=next,
            status_code=403,
        )
    address = request.client.host if request.client is not None else "unknown"
    try:
        success = await login(
            session,
            redis,
            email=email,
            password=password,
            address=address,
            device_cookie=request.cookies.get(DEVICE_COOKIE),
            secret=runtime.settings.secret_key.get_secret_value(),
        )
    except LoginError as exc:
        response = _login_form(
            request,
            runtime,
            error=_login_error_text(exc),
            email=email,
            next_path=next,
            status_code=429 if exc.retry_after_seconds else 401,
        )
        if exc.retry_after_seconds:
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    session_id = await sessions.create_session(redis, success.user_id)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        secure=_secure(runtime),
        path="/",
        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()),
    )
    redirect.set_cookie(
        DEVICE_COOKIE,
        success.device_cookie,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
        path="/console/login",
        max_age=int(throttle.DEVICE_LIFETIME.total_seconds()),
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return redirect


@router.post("/logout")
async def logout(user: CurrentConsoleUser, _form: CheckedForm, redis: RedisDep) -> Response:
    await sessions.end_session(redis, user.session_id)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# The language cookie only helps the login page (no user yet); a year, like the switch.
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600


@router.post("/language")
async def set_language(
    request: Request,
    runtime: RuntimeDep,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    """The header's language switch: stored on the user (every device), and in a cookie so
    the login page speaks it too."""
    locale = normalise(form_text(form, "locale"))
    if locale is None:
        from api.console.deps import ConsoleHTTPError

        raise ConsoleHTTPError(422, _("Choose 中文 or English."))
    await user_service.set_locale(session, user_id=user.principal.user_id, locale=locale)
    use_locale(locale)
    redirect = RedirectResponse(_safe_next(form_text(form, "next")), status_code=303)
    redirect.set_cookie(
        LOCALE_COOKIE,
        locale,
        httponly=True,
        samesite="lax",
        secure=_secure(runtime),
        path="/console",
        max_age=LOCALE_COOKIE_MAX_AGE,
    )
    return redirect
