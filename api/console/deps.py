"""Console request dependencies: the logged-in HR user behind the session cookie, and CSRF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.console.i18n import DEFAULT_LOCALE, _, normalise, use_locale
from api.deps import RedisDep, SessionDep
from candor.auth.principals import HRPrincipal, load_person
from candor.auth.sessions import csrf_matches, load_session

SESSION_COOKIE = "candor_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequiredError(Exception):
    """No live session: pages redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ConsoleHTTPError(Exception):
    """An error page: 403 for a missing role or CSRF token, 404 for what the user cannot see."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def not_found(what: str) -> ConsoleHTTPError:
    return ConsoleHTTPError(404, _("%(what)s does not exist, or is not in your teams", what=what))


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    principal: HRPrincipal
    display_name: str
    email: str
    session_id: str
    csrf_token: str
    locale: str = DEFAULT_LOCALE

    @property
    def actor(self) -> str:
        return self.principal.actor


async def get_console_user(request: Request, session: SessionDep, redis: RedisDep) -> ConsoleUser:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    stored = await load_session(redis, session_id)
    person = await load_person(session, stored.user_id) if stored is not None else None
    if stored is None or person is None:
        next_path = request.url.path if request.method == "GET" else "/console"
        raise LoginRequiredError(next_path)
    # The user's stored language wins over the cookie and Accept-Language, on every device;
    # pages, error pages and the texts the routes build all read it from here on.
    locale = normalise(person.locale) or DEFAULT_LOCALE
    use_locale(locale)
    return ConsoleUser(
        principal=person.principal,
        display_name=person.display_name,
        email=person.email,
        session_id=session_id,
        csrf_token=stored.csrf_token,
        locale=locale,
    )


CurrentConsoleUser = Annotated[ConsoleUser, Depends(get_console_user)]


async def get_console_admin(user: CurrentConsoleUser) -> ConsoleUser:
    if not user.principal.is_admin:
        raise ConsoleHTTPError(403, _("only an admin may do this"))
    return user


ConsoleAdmin = Annotated[ConsoleUser, Depends(get_console_admin)]


async def get_checked_form(request: Request, user: CurrentConsoleUser) -> FormData:
    """The posted form, once its CSRF token matched the session's. Every console POST
    depends on this, so none can be forged from another site."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    token = submitted if isinstance(submitted, str) else request.headers.get(CSRF_HEADER)
    if not csrf_matches(user.csrf_token, token):
        raise ConsoleHTTPError(403, _("the form's security token is missing or stale; reload"))
    return form


CheckedForm = Annotated[FormData, Depends(get_checked_form)]


def form_text(form: FormData, name: str, *, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def form_textarea(form: FormData, name: str, *, default: str = "") -> str:
    """A textarea's text with its line breaks as stored: browsers post them as CRLF."""
    return form_text(form, name, default=default).replace("\r\n", "\n")
