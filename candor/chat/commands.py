"""Recognising the chat commands Candor handles itself, before any dialogue engine.

Simple, conservative keyword rules: opt-out and opt-in only on an exact word (so "don't
stop" is not an opt-out), preferences only on a short sentence naming exactly one channel.
Understanding free text is the dialogue engine's job.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from candor.crypto.fields import phone_key
from candor.models.enums import Channel

OPT_OUT_WORDS = frozenset({"退订", "取消订阅", "stop", "/stop", "unsubscribe", "td"})
OPT_IN_WORDS = frozenset({"订阅", "恢复订阅", "start", "subscribe"})
UNBIND_WORDS = frozenset({"解绑", "解除绑定", "unbind", "/unbind"})

APPLICATION_CODE = re.compile(r"\bAP-\d{4}-\d{6}\b", re.IGNORECASE)
# "绑定 AP-2026-000123 name@example.com", "bind AP-2026-000123, phone: 138 0013 8000": the
# application code, then the candidate's own e-mail or phone, optionally labelled. Matched
# after `normalise`, so full-width spaces, colons and commas are plain ones by then.
_BIND_REQUEST = re.compile(
    r"^(?:绑定|bind|/bind)?[\s:]*(AP-\d{4}-\d{6})"
    r"(?:[\s,;:、]+(?:with\s+|用\s*)?"
    r"(?:手机号码|手机号|手机|电话|邮箱地址|邮箱|电子邮件|phone|mobile|tel|e-?mail)?[\s:]*(.+))?$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_PHONE = re.compile(r"^\+?[\d\s()-]+$")
_PHONE_DIGITS = range(7, 16)
_ONE_TIME_CODE = re.compile(r"^(?:(AP-\d{4}-\d{6})[\s,，:：]+)?(\d{6})$", re.IGNORECASE)

# Words that name a channel, and phrases that make a sentence a request to use one.
_CHANNEL_WORDS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("邮件", "邮箱", "电邮", "email", "e-mail", "mail"),
    Channel.WECHAT: ("微信", "wechat", "weixin"),
    Channel.TELEGRAM: ("telegram", "电报", "tg"),
    Channel.SMS: ("短信", "sms", "text message"),
}
_PREFERENCE_CUES = (
    "以后", "今后", "之后", "改用", "改成", "改为", "换成", "请用", "请通过", "用", "通过",
    "发到", "发给我", "联系我", "通知我", "prefer", "contact me", "send me", "use ", "via",
    "email me", "mail me", "message me",
)  # fmt: skip
_MAX_PREFERENCE_LENGTH = 40


@dataclass(frozen=True, slots=True)
class OptOut:
    pass


@dataclass(frozen=True, slots=True)
class OptIn:
    pass


@dataclass(frozen=True, slots=True)
class Unbind:
    pass


@dataclass(frozen=True, slots=True)
class BindRequest:
    application_code: str
    # The candidate's e-mail (case-folded) or phone (digits, no +86) as typed; None when
    # only the code was sent, which triggers nothing but a request for the contact.
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class OneTimeCode:
    code: str
    application_code: str | None


@dataclass(frozen=True, slots=True)
class PreferChannel:
    channel: Channel


Command = OptOut | OptIn | Unbind | BindRequest | OneTimeCode | PreferChannel


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), case-folded, trimmed, and without
    trailing punctuation, so "ＳＴＯＰ！" and "stop" read the same."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return folded.rstrip("。.!！?？~～ ").strip()


def parse_command(text: str) -> Command | None:
    """The command `text` is, or None for anything else (which goes to the engine)."""
    plain = normalise(text)
    if not plain:
        return None
    if plain in OPT_OUT_WORDS:
        return OptOut()
    if plain in OPT_IN_WORDS:
        return OptIn()
    if plain in UNBIND_WORDS:
        return Unbind()
    if match := _ONE_TIME_CODE.match(plain):
        application = match.group(1)
        return OneTimeCode(match.group(2), application.upper() if application else None)
    if match := _BIND_REQUEST.match(plain):
        code, typed = match.group(1).upper(), match.group(2)
        if typed is None:
            return BindRequest(code)
        contact = normalise_contact(typed)
        return BindRequest(code, contact) if contact is not None else None
    channel = preferred_channel(plain)
    return PreferChannel(channel) if channel is not None else None


def normalise_contact(typed: str) -> str | None:
    """An e-mail address (trimmed, case-folded) or a phone number (its digits, without a
    +86 or 0086 prefix) in the form contacts on file are compared in; None for neither."""
    plain = unicodedata.normalize("NFKC", typed).strip().rstrip("。.!！?？~～ ")
    if _EMAIL.match(plain):
        return plain.casefold()
    if _PHONE.match(plain):
        return normalise_phone(plain) or None
    return None


def normalise_phone(number: str) -> str:
    """ "+86 138-0013-8000" → "13800138000"; "" when it is not a phone number. The blind
    index's `phone_key`, so a number found by its index is also the one the chat matches."""
    digits = phone_key(number)
    return digits if len(digits) in _PHONE_DIGITS else ""


def preferred_channel(plain: str) -> Channel | None:
    """ "以后发邮件给我" → e-mail: a short sentence with a cue naming exactly one channel."""
    if len(plain) > _MAX_PREFERENCE_LENGTH or not any(cue in plain for cue in _PREFERENCE_CUES):
        return None
    named = named_channels(plain)
    return named.pop() if len(named) == 1 else None


def named_channels(text: str) -> set[Channel]:
    """The channels a message names ("微信上别发了" → WeChat)."""
    plain = normalise(text)
    return {
        channel
        for channel, words in _CHANNEL_WORDS.items()
        if any(_mentions(plain, word) for word in words)
    }


def _mentions(plain: str, word: str) -> bool:
    if word.isascii():
        # Latin words must stand alone: "tg" inside "settings" names nothing.
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", plain) is not None
    return word in plain
