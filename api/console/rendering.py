"""Rendering console pages: one Jinja2 environment, autoescaped, with the user and CSRF token."""

from __future__ import annotations

import gettext
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from api.console.deps import CSRF_FIELD, ConsoleUser
from candor.clock import BUSINESS_TZ

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)

# Pages load only the console's own files, cannot be framed (clickjacking), and are not
# cached: they show candidates' data to one logged-in user.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as people here read it: Asia/Shanghai."""
    return moment.astimezone(BUSINESS_TZ).strftime(fmt) if moment is not None else "—"


templates.env.filters["local"] = _local

DEFAULT_LOCALE = "zh_CN"


def _translations(locale: str | None) -> gettext.NullTranslations:
    # Placeholder until the catalogues land: every locale reads the source strings.
    return gettext.NullTranslations()


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _translations(context.get("locale")).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _translations(context.get("locale")).ngettext(singular, plural, n)


# Templates say {{ _("Approvals") }}; the request's locale picks the catalogue at render time.
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=_gettext, ngettext=_ngettext, newstyle=True
)


def page(
    request: Request,
    name: str,
    user: ConsoleUser | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_field": CSRF_FIELD, "locale": DEFAULT_LOCALE, **context},
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response
