"""The console speaks simplified Chinese by default and English by each user's choice; the
zh_CN catalogue covers every string; API errors keep their codes in either language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest
from jinja2 import Environment

from api.console import catalogue, domain_texts
from api.console.i18n import LOCALE_COOKIE, negotiate, translations, use_locale
from api.console.rendering import TEMPLATES_DIR, templates
from candor.access.tokens import SCOPE_HELP
from candor.outreach.templating import TEMPLATE_VARIABLES
from tests.console_world import logged_in, login, post_form, session_csrf, set_password
from tests.factories import make_hr_user
from tests.outreach_world import World

# Words a template may show as they are in every language.
ALLOWED_WORDS = {
    "Candor",  # the brand
    "CSAT",  # the figure's name in Chinese HR reports too
    "Macro-F1",
    "p90",
    "webhook-id",  # the header's name
    "Telegram",  # the product's name
    "ms",  # milliseconds
    "v",
}
# Placeholders that show an example value, the same in every language.
EXAMPLES = {
    "https://ats.example.com/candor/webhooks",
    "moka-ats",
    "user:12",
    "AP-2026-000123",
    "${name}您好，…",
}
# Attributes people read: the scan checks them like text.
VISIBLE_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")


class _VisibleText(HTMLParser):
    """The text nodes and visible attribute values of HTML with its Jinja parts blanked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        for name, value in attrs:
            if value and name in VISIBLE_ATTRIBUTES and value not in EXAMPLES:
                self.texts.append(value)
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def bare_english(source: str, env: Environment = templates.env) -> list[str]:
    """English words a template shows outside `_()`: its literal text (the lexer's `data`
    tokens, every Jinja expression, statement and comment blanked) parsed as HTML."""
    literal = "".join(value if token == "data" else " " for _line, token, value in env.lex(source))
    parser = _VisibleText()
    parser.feed(literal)
    parser.close()
    words = [w for text in parser.texts for w in WORD.findall(text)]
    return [w for w in words if w not in ALLOWED_WORDS and len(w) > 1]


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("<p>Hello there</p>", ["Hello", "there"]),
        ('<input placeholder="Reason for rejecting">', ["Reason", "for", "rejecting"]),
        ('<button aria-label="Close">×</button>', ["Close"]),
        ('<input type="submit" value="Send">', ["Send"]),
        ('{% if x %}<span class="due">overdue</span>{% endif %}', ["overdue"]),
        ('<p>{{ _("Hello there") }} {# a note #}</p>', []),
        ('<a href="/console/inbox" class="brand">Candor</a>', []),
        ('<input type="hidden" name="next" value="keep">', []),
    ],
)
def test_the_scan_finds_unwrapped_english(source: str, found: list[str]) -> None:
    assert bare_english(source) == found


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES_DIR.glob("*.html")))
def test_no_template_shows_english_outside_gettext(name: str) -> None:
    source = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    assert bare_english(source) == [], f"wrap these in _() in {name}"


def test_the_zh_catalogue_translates_every_string_and_is_in_step_with_the_sources() -> None:
    problems = catalogue.check("zh_CN")
    assert problems.untranslated == [], "translate these in messages.po"
    assert problems.fuzzy == [], "review these fuzzy translations"
    assert problems.missing == [], "run `python3 dev.py i18n`: the sources have new strings"
    assert problems.obsolete == [], "run `python3 dev.py i18n`: these are no longer used"


def test_the_domain_texts_pages_translate_are_the_domains_own() -> None:
    assert set(domain_texts.TEMPLATE_VARIABLE_TEXTS) == set(TEMPLATE_VARIABLES.values())
    assert set(domain_texts.SCOPE_HELP_TEXTS) == set(SCOPE_HELP.values())


def test_accept_language_picks_the_preferred_supported_language() -> None:
    assert negotiate(None) == "zh_CN"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("zh-TW,en;q=0.5") == "zh_CN"
    assert negotiate("fr-FR, en;q=0.4, zh;q=0.8") == "zh_CN"
    assert negotiate("fr-FR") == "zh_CN"
    assert negotiate("fr-FR", default="en") == "en"
    assert negotiate("zh;q=0, en") == "en"


@pytest.mark.parametrize(
    ("locale", "local", "long", "ago", "percent"),
    [
        ("zh_CN", "2026-01-02 00:30", "2026年1月2日 00:30:00", "3天前", "12.5%"),
        ("en", "2026-01-02 00:30", "Jan 2, 2026, 12:30:00\u202fAM", "3 days ago", "12.5%"),
    ],
)
def test_dates_show_in_china_time_in_either_language(
    locale: str, local: str, long: str, ago: str, percent: str
) -> None:
    moment = datetime(2026, 1, 1, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
    use_locale(locale)
    try:
        shown = templates.env.from_string(
            "{{ t | local }}|{{ t | datetime }}|{{ t | ago(now) }}|{{ 0.125 | percent(1) }}"
        ).render(t=moment, now=moment + timedelta(days=3), locale=locale)
    finally:
        use_locale("zh_CN")
    assert shown == f"{local}|{long}|{ago}|{percent}"


def _has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


async def test_chinese_by_default_english_by_choice_remembered_across_logins(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        chooser = await make_hr_user(session, team=world.team, locale=None)
        other = await make_hr_user(session, team=world.team, locale=None)
    csrf = await logged_in(console, world.runtime, chooser.id)

    inbox = await console.get("/console/inbox")
    assert '<html lang="zh-CN">' in inbox.text
    assert ">审批</a>" in inbox.text
    assert "Approvals" not in inbox.text
    missing = await console.get("/console/messages/999999")  # an error page, same language
    assert missing.status_code == 404
    assert "消息 999999 不存在，或不属于您所在的团队" in missing.text

    switched = await post_form(
        console, "/console/language", csrf, locale="en", next="/console/kpis?from=x"
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/console/kpis?from=x"
    assert f"{LOCALE_COOKIE}=en" in switched.headers["set-cookie"]
    english = await console.get("/console/inbox")
    assert '<html lang="en">' in english.text
    assert ">Approvals</a>" in english.text
    assert not _has_chinese(english.text.replace("王招聘", "").replace("中文", ""))

    # Another device, no cookies, a browser preferring Chinese: the choice is the user's.
    email = await set_password(world.runtime, chooser.id)
    async with _client(console, "zh-CN,zh;q=0.9") as phone:
        assert (await login(phone, email)).status_code == 303
        assert ">Approvals</a>" in (await phone.get("/console/inbox")).text

    # The other user never chose: Chinese.
    async with _client(console, "") as theirs:
        assert (await login(theirs, await set_password(world.runtime, other.id))).status_code
        assert ">审批</a>" in (await theirs.get("/console/inbox")).text

    # Back to Chinese; a language the console does not speak is refused, nothing changes.
    bad = await post_form(console, "/console/language", session_csrf(english.text), locale="fr")
    assert bad.status_code == 422
    await post_form(console, "/console/language", session_csrf(english.text), locale="zh_CN")
    assert ">审批</a>" in (await console.get("/console/inbox")).text


def _client(like: httpx.AsyncClient, accept_language: str) -> httpx.AsyncClient:
    """A fresh browser on the same app: no cookies."""
    headers = {"Accept-Language": accept_language} if accept_language else {}
    return httpx.AsyncClient(transport=like._transport, base_url=like.base_url, headers=headers)


@pytest.mark.parametrize(
    ("accept_language", "cookie", "expected", "lang"),
    [
        ("", None, "登录", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "登录", "zh-CN"),
        ("en-GB,en;q=0.9", None, "Log in", "en"),
        ("en-GB,en;q=0.9", "zh_CN", "登录", "zh-CN"),
        ("zh-CN", "en", "Log in", "en"),
    ],
)
async def test_the_login_page_follows_the_switch_cookie_then_accept_language(
    console: httpx.AsyncClient, accept_language: str, cookie: str | None, expected: str, lang: str
) -> None:
    async with _client(console, accept_language) as browser:
        if cookie is not None:
            browser.cookies.set(LOCALE_COOKIE, cookie, domain="candor.test")
        page = await browser.get("/console/login")
    assert f"<h1>{expected}</h1>" in page.text
    assert f'<html lang="{lang}">' in page.text


async def test_api_errors_keep_their_code_and_translate_the_message(
    console: httpx.AsyncClient,
) -> None:
    async def error(path: str, accept_language: str | None) -> dict[str, str]:
        headers = {"Accept-Language": accept_language} if accept_language is not None else {}
        async with _client(console, "") as api:
            answer = await api.get(path, headers=headers)
        body: dict[str, str] = answer.json()["error"]
        return body

    assert await error("/api/v1/kpis", None) == {
        "code": "unauthenticated",
        "message": "send your personal HR token as Bearer",
    }
    assert await error("/api/v1/kpis", "en-US") == await error("/api/v1/kpis", None)
    assert await error("/api/v1/kpis", "zh-CN,zh;q=0.9") == {
        "code": "unauthenticated",
        "message": "请以 Bearer 方式发送您的个人 HR 令牌",
    }
    assert await error("/api/v1/no-such-thing", "zh") == {"code": "http_404", "message": "未找到"}
    assert (await error("/api/v1/no-such-thing", "fr"))["message"] == "Not Found"


def test_the_catalogue_is_compiled_from_the_po_once() -> None:
    assert translations("zh_CN") is translations("zh_CN")
    assert translations("zh_CN").gettext("Approvals") == "审批"
    assert translations("en").gettext("Approvals") == "Approvals"
