"""Which language a candidate's message is written in, so the answer comes in the same one.

A zh-CN candidate who asks in English gets English, and one who switches back to Chinese gets
Chinese. Application codes, e-mails, links and numbers say nothing about the language, and
a message with no words at all (a button, an emoji, "5") keeps the conversation's language.
"""

from __future__ import annotations

import re
import unicodedata

from candor.models.enums import Locale

# Longer messages are read by their beginning and end, where people state what they want;
# reading 10 KB costs the NLU tens of milliseconds for nothing.
MAX_READ = 2000

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# What carries Latin letters without being English: codes, addresses, links.
_NOT_WORDS = re.compile(
    r"\bAP-\d{4}-\d{6}\b|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+|/[A-Za-z_]\w*(?:\{.*\})?",
    re.IGNORECASE,
)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def message_language(text: str | None) -> Locale | None:
    """zh-CN when the message has any Chinese (mixed messages come from Chinese speakers),
    English when it has Latin words and no Chinese, None when it has neither."""
    if not text:
        return None
    plain = _NOT_WORDS.sub(" ", text[:2000])
    if _CJK.search(plain):
        return Locale.ZH_CN
    if _LATIN_WORD.search(plain):
        return Locale.EN
    return None


def slot_language(locale: Locale) -> str:
    """The dialogue's `language` slot value (domain.yml) for a locale."""
    return "en" if locale is Locale.EN else "zh"


def slot_locale(value: object) -> Locale:
    return Locale.EN if value == "en" else Locale.ZH_CN


def readable(text: str | None) -> str:
    """What can be read of a message: without control and format characters (a pasted
    terminal colour code, a byte-order mark, a direction override), trimmed, and cut to its
    first and last MAX_READ / 2 characters. Empty when nothing is left but spaces and
    punctuation: no word, number or emoji."""
    kept = "".join(
        c for c in text or "" if unicodedata.category(c) not in ("Cc", "Cf") or c in "\n\t"
    ).strip()
    if not any(unicodedata.category(c)[0] in "LNS" for c in kept):
        return ""
    if len(kept) > MAX_READ:
        kept = f"{kept[: MAX_READ // 2]} {kept[-MAX_READ // 2 :]}"
    return kept
