"""A button answered in words: by its title (a WeChat menu link sends it back) or number."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from candor.chat.buttons import answered_payload

BUTTONS = [
    ("12月10日（周四）14:00–14:45 · 视频面试", '/choose_slot{"slot_id": "7"}'),
    ("R&D 楼 <3F>", '/choose_slot{"slot_id": "8"}'),
    ("更多时间", "/more_slots"),
]


def test_a_title_names_its_button_whatever_the_spacing_width_and_case() -> None:
    assert answered_payload(BUTTONS, "  更多时间 ") == "/more_slots"
    assert answered_payload(BUTTONS, "12月10日（周四）14:00–14:45  ·  视频面试") == BUTTONS[0][1]
    # WeChat's link leaves out what a URL cannot carry.
    assert answered_payload(BUTTONS, "RD 楼 3F") == BUTTONS[1][1]
    assert answered_payload([("Yes", "/affirm")], "YES") == "/affirm"


def test_a_number_in_the_list_names_its_button() -> None:
    assert answered_payload(BUTTONS, "1") == BUTTONS[0][1]
    assert answered_payload(BUTTONS, "３") == "/more_slots"  # full-width, as a phone types it
    assert answered_payload(BUTTONS, "2.") == BUTTONS[1][1]
    assert answered_payload(BUTTONS, "0") is None
    assert answered_payload(BUTTONS, "4") is None
    assert answered_payload(BUTTONS, "我想约 1 号") is None
    assert answered_payload([], "1") is None
    assert answered_payload(BUTTONS, "") is None


@given(st.text(max_size=40))
def test_anything_else_is_not_a_press(text: str) -> None:
    payload = answered_payload(BUTTONS, text)
    assert payload is None or payload in {p for _, p in BUTTONS}
