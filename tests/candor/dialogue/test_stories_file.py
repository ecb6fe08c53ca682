from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.dialogue.project import DialogueFileError
from candor.dialogue.stories import ExpectedEntity, parse_test_stories, strip_markup


def test_markup_names_entities_and_leaves_the_plain_text() -> None:
    text, entities = strip_markup(
        '绑定[AP-2025-000777](application_code)，[薪资]{"entity": "job_topic", "value": "salary"}'
    )
    assert text == "绑定AP-2025-000777，薪资"
    assert entities == (
        ExpectedEntity("application_code", "AP-2025-000777", "AP-2025-000777"),
        ExpectedEntity("job_topic", "salary", "薪资"),
    )


@given(st.text(alphabet=st.characters(blacklist_characters="[]{}()"), max_size=60))
def test_text_without_markup_is_unchanged(text: str) -> None:
    assert strip_markup(text) == (text.strip(), ())


@given(
    st.text(alphabet=st.characters(blacklist_characters="[]{}()"), min_size=1, max_size=20).filter(
        lambda s: s.strip() == s and s
    ),
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
)
def test_a_short_annotation_is_its_surface(surface: str, entity: str) -> None:
    text, entities = strip_markup(f"x [{surface}]({entity}) y")
    assert text == f"x {surface} y"
    assert entities == (ExpectedEntity(entity, surface, surface),)


def test_turns_gather_the_bot_steps_after_each_message() -> None:
    [story] = parse_test_stories(
        {
            "stories": [
                {
                    "story": "s",
                    "steps": [
                        {"user": "hi\n", "intent": "greet"},
                        {"action": "utter_greet"},
                        {"user": "bind", "intent": "bind_identity"},
                        {"action": "bind_form"},
                        {"active_loop": "bind_form"},
                        {"slot_was_set": [{"requested_slot": "otp_code"}]},
                    ],
                }
            ]
        }
    )
    first, second = story.turns
    assert (first.text, first.intent, first.actions) == ("hi", "greet", ["utter_greet"])
    assert second.active_loops == ["bind_form"]
    assert second.slots == {"requested_slot": "otp_code"}


def test_a_bot_step_before_any_message_is_refused() -> None:
    with pytest.raises(DialogueFileError):
        parse_test_stories({"stories": [{"story": "s", "steps": [{"action": "utter_greet"}]}]})


def test_an_intent_step_without_text_is_a_button_press_with_its_payload() -> None:
    [story] = parse_test_stories(
        {
            "stories": [
                {
                    "story": "s",
                    "steps": [
                        {"intent": "choose_slot", "entities": [{"slot_id": "12"}]},
                        {"action": "action_hold_slot"},
                        {"intent": "none_fit"},
                    ],
                }
            ]
        }
    )
    chosen, none_fit = story.turns
    assert chosen.text == '/choose_slot{"slot_id": "12"}'
    assert chosen.intent == "choose_slot"
    assert chosen.entities == (ExpectedEntity("slot_id", "12", "12"),)
    assert chosen.actions == ["action_hold_slot"]
    assert (none_fit.text, none_fit.entities) == ("/none_fit", ())


def test_button_entities_must_be_name_value_items() -> None:
    with pytest.raises(DialogueFileError, match="entities"):
        parse_test_stories(
            {"stories": [{"story": "s", "steps": [{"intent": "x", "entities": ["slot_id"]}]}]}
        )
