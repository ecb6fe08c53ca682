"""Which numbers can take a text message, whatever the provider.

Mobile numbers are kept in E.164 (`+8613800138000`). Mainland China numbers are recognised
by their own rule (`1[3-9]` and nine digits, written locally as 11 digits or with +86/0086/86)
because that is what the Chinese providers accept; any other number must carry its country
code (`+44 7400 123456`, `0044...`) and be a valid mobile number by libphonenumber's data.
A landline, a short code or a number without a country code is not an SMS recipient.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = [
    "SEPARATORS",
    "InvalidMobileNumberError",
    "is_mainland_mobile",
    "mobile_or_none",
    "normalize_mobile",
]

# What may stand between the digits of a number as an ATS writes it. The SMS opt-out's
# match in SQL (`candor.chat.consent.stop_sms`) leaves out exactly these too, so every
# number a text can go to is also one a TD reply opts out.
SEPARATORS = " \t\n\r\u00a0\u3000-()."
_SEPARATORS = re.compile(f"[{re.escape(SEPARATORS)}]")
_MAINLAND = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
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
