"""SMS facts that do not depend on a provider: which numbers can take a text message, and how
many billable segments a text is.

Mobile numbers are kept in E.164 (`+8613800138000`). Mainland China numbers are recognised
by their own rule (`1[3-9]` and nine digits, written locally as 11 digits or with +86/0086/86)
because that is what the Chinese providers accept; any other number must carry its country
code (`+44 7400 123456`, `0044...`) and be a valid mobile number by libphonenumber's data.
A landline, a short code or a number without a country code is not an SMS recipient.

Segments follow GSM 03.38: a text that fits the GSM 7-bit alphabet takes 160 characters in one
message and 153 per part when split (the rest of each part is the concatenation header); any
other character (Chinese, emoji) makes the whole text UCS-2: 70 in one message, 67 per part,
counted in UTF-16 units (an emoji outside the BMP is two). A split never cuts a character in
two. The Chinese providers put the sign name in front as `【name】` and bill it as part of the
text, so `sms_length(text, sign_name=...)` counts it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

__all__ = [
    "GSM7_MULTIPART",
    "GSM7_SINGLE",
    "UCS2_MULTIPART",
    "UCS2_SINGLE",
    "InvalidMobileNumberError",
    "SmsLength",
    "is_mainland_mobile",
    "mobile_or_none",
    "normalize_mobile",
    "signed_text",
    "sms_length",
]

GSM7_SINGLE, GSM7_MULTIPART = 160, 153
UCS2_SINGLE, UCS2_MULTIPART = 70, 67

# GSM 03.38 basic character set (the escape character itself is not text) ...
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# ... and its extension table, each character sent as escape + character: two septets.
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_SEPARATORS = re.compile(r"[\s\-().]")
_MAINLAND = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_MAINLAND_PREFIX = re.compile(r"(?:\+86|0086)")
_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class InvalidMobileNumberError(ValueError):
    """Not a number an SMS can be sent to."""


def normalize_mobile(raw: str) -> str:
    """The E.164 form of a mobile number, or InvalidMobileNumberError saying why not."""
    compact = _SEPARATORS.sub("", raw.strip())
    if not compact:
        raise InvalidMobileNumberError("no mobile number")
    mainland = _MAINLAND.fullmatch(compact)
    if mainland:
        return f"+86{mainland.group(1)}"
    if _MAINLAND_PREFIX.match(compact):
        raise InvalidMobileNumberError(
            f"{raw!r} is not a mainland China mobile number (+86 1[3-9]xxxxxxxxx)"
        )
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.startswith("+"):
        raise InvalidMobileNumberError(
            f"{raw!r} has no country code: write it as +<country code><number>"
        )
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidMobileNumberError(f"{raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobileNumberError(f"{raw!r} is not a valid phone number")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidMobileNumberError(f"{raw!r} is not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile_or_none(raw: str | None) -> str | None:
    """The E.164 mobile number in an ATS field, or None when there is none an SMS can reach."""
    if raw is None:
        return None
    try:
        return normalize_mobile(raw)
    except InvalidMobileNumberError:
        return None


def is_mainland_mobile(e164: str) -> bool:
    return e164.startswith("+86")


@dataclass(frozen=True, slots=True)
class SmsLength:
    """How a text travels: its encoding, its length in that encoding's units (GSM septets or
    UTF-16 units), the number of billable segments, and how many units one segment holds."""

    encoding: Literal["gsm7", "ucs2"]
    units: int
    segments: int
    units_per_segment: int


def signed_text(text: str, sign_name: str | None) -> str:
    """The text as a Chinese provider sends it: the sign name in 【】 in front."""
    return f"【{sign_name}】{text}" if sign_name else text


def sms_length(text: str, *, sign_name: str | None = None) -> SmsLength:
    """Segments of `text` (with the provider's `【sign_name】` in front when given)."""
    full = signed_text(text, sign_name)
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in full):
        costs = [2 if c in _GSM7_EXTENSION else 1 for c in full]
        return _segments("gsm7", costs, GSM7_SINGLE, GSM7_MULTIPART)
    costs = [2 if ord(c) > 0xFFFF else 1 for c in full]
    return _segments("ucs2", costs, UCS2_SINGLE, UCS2_MULTIPART)


def _segments(
    encoding: Literal["gsm7", "ucs2"], costs: list[int], single: int, multipart: int
) -> SmsLength:
    units = sum(costs)
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0, single)
    segments, used = 1, 0
    for cost in costs:  # a character is never split across two parts
        if used + cost > multipart:
            segments, used = segments + 1, 0
        used += cost
    assert segments >= math.ceil(units / multipart)
    return SmsLength(encoding, units, segments, multipart)
