"""How many SMS segments a text costs, as carriers bill it.

A text in the GSM 03.38 default alphabet is sent 7 bits a character: 160 characters fit one
segment, and a longer text is split into segments of 153 (each carries a 7-character
concatenation header). Any other character (Chinese, 【】, emoji) makes the whole text UCS-2:
70 per single segment, 67 per segment of a longer text, counted in UTF-16 code units (an
emoji takes two). Characters of the GSM extension table (€, [, ], {, }, ...) take two septets.

Chinese providers put the signature in front as 【sign】, which is part of what the candidate
receives and is billed: it counts, and its brackets alone make the text UCS-2 (which is why
Alibaba and Tencent document "70 characters, then 67 each" for domestic SMS).
"""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def sms_text(text: str, sign_name: str = "") -> str:
    """The text as the candidate receives it: 【sign】 first, when there is one."""
    return f"【{sign_name}】{text}" if sign_name else text


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def units(text: str) -> int:
    """The text's length in its encoding's units: septets for GSM-7, UTF-16 code units else."""
    if is_gsm7(text):
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str, sign_name: str = "") -> int:
    """Segments billed for `text` sent with `sign_name`; 0 for nothing at all to send."""
    full = sms_text(text, sign_name)
    length = units(full)
    if length == 0:
        return 0
    single, part = (GSM7_SINGLE, GSM7_PART) if is_gsm7(full) else (UCS2_SINGLE, UCS2_PART)
    if length <= single:
        return 1
    return -(-length // part)
