"""Rendering console pages: one Jinja2 environment, autoescaped, with the user and CSRF token."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from api.console.deps import CSRF_FIELD, ConsoleUser
from api.console.i18n import (
    HTML_LANG,
    LANGUAGE_NAMES,
    LOCALES,
    current_locale,
    translations,
)
from api.console.labels import label
from candor.clock import BUSINESS_TZ, utcnow

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


def _local(moment: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time as people here read it: Asia/Shanghai (a CLDR pattern)."""
    if moment is None:
        return "—"
    return format_datetime(moment, fmt, tzinfo=BUSINESS_TZ, locale=current_locale())


def _datetime(moment: datetime | None, width: str = "medium") -> str:
    """A moment in the user's language and China time: "2026年12月2日 15:04:05"."""
    if moment is None:
        return "—"
    return format_datetime(moment, width, tzinfo=BUSINESS_TZ, locale=current_locale())


def _date(moment: datetime | date | None, width: str = "medium") -> str:
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = moment.astimezone(BUSINESS_TZ).date()
    return format_date(moment, width, locale=current_locale())


def _number(value: float | int | None, digits: int | None = None) -> str:
    if value is None:
        return "—"
    if digits is None:
        return format_decimal(value, locale=current_locale())
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, pattern, locale=current_locale())


def _percent(fraction: float | None, digits: int = 0) -> str:
    """0.125 → "12%" / "12.5%" with `digits`; the locale's percent sign and grouping."""
    if fraction is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(fraction, pattern, locale=current_locale())


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago: "3 天前" / "3 days ago"."""
    if moment is None:
        return "—"
    delta = moment - (now or utcnow())
    return format_timedelta(
        delta, add_direction=True, threshold=1.0, format="long", locale=current_locale()
    )


def _duration(seconds: float | None) -> str:
    """A length of time: "3 小时" / "3 hours"."""
    if seconds is None:
        return "—"
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.0, format="long", locale=current_locale()
    )


templates.env.filters.update(
    local=_local,
    datetime=_datetime,
    date=_date,
    number=_number,
    percent=_percent,
    ago=_ago,
    duration=_duration,
    label=label,
)


def _translate(text: object) -> str:
    """A text the code chose at run time (a label, a domain message) in the user's
    language if the catalogue has it; else as it is. No placeholders are filled."""
    if text is None:
        return ""
    return translations(current_locale()).gettext(str(text))


templates.env.filters["tr"] = _translate


def _context_locale(context: Context) -> str:
    locale = context.get("locale")
    return locale if isinstance(locale, str) else current_locale()


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(_context_locale(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(_context_locale(context)).ngettext(singular, plural, n)


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
    locale = current_locale()
    response = templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf_field": CSRF_FIELD,
            "locale": locale,
            "html_lang": HTML_LANG[locale],
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LOCALES],
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response
