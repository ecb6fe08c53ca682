"""The console's languages: simplified Chinese by default, English by choice.

Source strings are English (`_("Approvals")`); the zh_CN catalogue is the checked-in
`locale/zh_CN/LC_MESSAGES/messages.po`, compiled in memory the first time a locale is used,
so a stale .mo can never ship. The locale of the running request is a context variable:
`LocaleMiddleware` sets it from the language cookie or Accept-Language, and the logged-in
user's stored choice overrides it (api/console/deps.py). `_` and `ngettext` read it, so
console Python code and templates translate alike. `python3 dev.py i18n` (or
`candor i18n update`) re-extracts the strings and updates the catalogue (docs/console.md)."""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
SOURCE_LOCALE = "en"  # the msgids are English: no catalogue
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
# Set by the language switch, so the login page (no user yet) speaks the last choice.
LOCALE_COOKIE = "candor_locale"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("candor_console_locale", default=DEFAULT_LOCALE)


def normalise(value: str | None) -> str | None:
    """A supported locale for a language tag or stored value ("zh-CN", "zh_Hans", "en-GB")."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, *, default: str = DEFAULT_LOCALE) -> str:
    """The supported locale the Accept-Language header prefers most, else `default`."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = normalise(tag)
        if locale is not None and quality > 0:
            choices.append((-quality, index, locale))
    return min(choices)[2] if choices else default


def request_locale(request: Request) -> str:
    """Before the user is known: the switch's cookie, else Accept-Language, else zh_CN."""
    return normalise(request.cookies.get(LOCALE_COOKIE)) or negotiate(
        request.headers.get("accept-language")
    )


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The locale's catalogue, compiled from its .po once per process."""
    if locale not in LOCALES or locale == SOURCE_LOCALE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def current_locale() -> str:
    return _current.get()


def use_locale(locale: str) -> None:
    """Speak `locale` for the rest of this request (the middleware resets it after)."""
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def _(message: str, **params: object) -> str:
    """`message` in the request's language, with `%(name)s` placeholders filled."""
    text = translations(current_locale()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, num: int, **params: object) -> str:
    """The plural form for `num`, which fills `%(num)s` as Jinja's ngettext does."""
    text = translations(current_locale()).ngettext(singular, plural, num)
    return text % {"num": num, **params}


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    return message


class LocaleMiddleware:
    """Sets the request's locale before anything renders, and resets it after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(request_locale(Request(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
