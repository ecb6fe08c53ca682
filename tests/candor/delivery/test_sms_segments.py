from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.delivery.sms_segments import GSM7_BASIC, GSM7_EXTENSION, segments, sms_text

gsm_basic = st.text(alphabet=sorted(GSM7_BASIC - {"\x1b"}))
chinese = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1)


@pytest.mark.parametrize(
    ("text", "sign", "expected"),
    [
        ("", "", 0),
        ("a" * 160, "", 1),
        ("a" * 161, "", 2),
        ("a" * 306, "", 2),
        ("a" * 307, "", 3),
        ("€" * 80, "", 1),  # an extension character takes two septets
        ("€" * 81, "", 2),
        ("您" * 70, "", 1),
        ("您" * 71, "", 2),
        ("您" * 134, "", 2),
        ("您" * 135, "", 3),
        ("😀" * 35, "", 1),  # two UTF-16 code units each
        ("😀" * 36, "", 2),
        # 【示例科技】 is 6 characters, and its brackets make the text UCS-2.
        ("a" * 64, "示例科技", 1),
        ("a" * 65, "示例科技", 2),
    ],
)
def test_known_lengths(text: str, sign: str, expected: int) -> None:
    assert segments(text, sign) == expected


@given(gsm_basic)
def test_gsm7_text_is_160_then_153_a_segment(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else -(-n // 153)
    assert segments(text) == expected


@given(chinese, st.text(alphabet="示例科技公司", max_size=8))
def test_chinese_text_is_70_then_67_a_segment_with_the_signature_counted(
    text: str, sign: str
) -> None:
    n = len(sms_text(text, sign))
    assert segments(text, sign) == (1 if n <= 70 else -(-n // 67))


@given(gsm_basic, st.text(alphabet=sorted(GSM7_EXTENSION)))
def test_one_character_outside_gsm7_never_costs_fewer_segments(base: str, extra: str) -> None:
    assert segments(base + extra + "您") >= segments(base + extra)


@given(st.text(), st.text(max_size=10))
def test_more_text_never_costs_fewer_segments(text: str, more: str) -> None:
    assert segments(text + more) >= segments(text)
