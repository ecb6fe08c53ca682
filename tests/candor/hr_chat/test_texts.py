"""What chat says about a card's or a message's state is in the HR user's language, never a
raw state value ("superseded", "queued") inside a Chinese sentence."""

from __future__ import annotations

import re

from candor.hr_chat.actions import status_text
from candor.hr_chat.texts import TEXTS
from candor.models import HrCard
from candor.models.enums import HrCardState
from candor.models.outreach import MessageState


def test_both_languages_say_the_same_things_and_name_every_state() -> None:
    assert TEXTS["zh"].keys() == TEXTS["en"].keys()
    for state in MessageState:
        assert f"message_{state.value}" in TEXTS["zh"]
    for card_state in HrCardState:
        assert f"card_{card_state.value}" in TEXTS["zh"]


def test_a_superseded_or_undecided_cards_status_is_translated() -> None:
    superseded = HrCard(state=HrCardState.DECIDED, decision="superseded")
    assert not re.search(r"[A-Za-z]", status_text(None, superseded))
    assert "superseded" in status_text("en", superseded)
    assert status_text(None, HrCard(state=HrCardState.EXPIRED, decision=None)) == "已过期"
