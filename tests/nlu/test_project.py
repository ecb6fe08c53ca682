"""The Rasa project files: loadable, consistent with each other, and with enough data.

Rasa itself validates these files only in its own environment (`rasa data validate`); these
checks keep them consistent in the main test suite, for both engines.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import yaml

from nlu.entities import EntityExtractor, lookup_pattern
from nlu.project import FALLBACK_INTENT, REPOSITORY_ROOT, FallbackThresholds, RasaProject
from nlu.training_data import TrainingData, TrainingDataError

CJK = re.compile(r"[\u4e00-\u9fff]")
# Rasa's default actions may appear in stories without being declared in the domain.
RASA_DEFAULT_ACTIONS = {
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_extract_slots",
}


@pytest.fixture(scope="module")
def project() -> RasaProject:
    return RasaProject.default()


@pytest.fixture(scope="module")
def domain(project: RasaProject) -> dict[str, Any]:
    return project.read_domain()


@pytest.fixture(scope="module")
def data(project: RasaProject) -> TrainingData:
    return project.training_data()


def _dialogue_steps(project: RasaProject) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for path in [*project.dialogue_paths, project.test_stories_path]:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in [*document.get("rules", []), *document.get("stories", [])]:
            steps += block.get("steps", []) + block.get("condition", [])
    return steps


def test_intents_are_the_same_in_domain_and_training_data(
    project: RasaProject, data: TrainingData
) -> None:
    assert sorted(project.intents()) == sorted(data.intents)
    assert len(project.intents()) == len(set(project.intents())) == 21


def test_button_intents_have_no_examples_and_name_what_their_payload_carries(
    project: RasaProject, domain: dict[str, Any], data: TrainingData
) -> None:
    """A button intent is sent only by a payload; training on it would teach the NLU an
    intent nobody types."""
    buttons = project.button_intents()
    assert sorted(buttons) == sorted(
        [
            "book_interview",
            "more_slots",
            "choose_slot",
            "confirm_booking",
            "cancel_booking",
            "none_fit",
        ]
    )
    assert not set(buttons) & set(data.intents)
    assert project.all_intents() == [*project.intents(), *buttons]
    carried = {
        entity
        for entry in domain["intents"]
        if isinstance(entry, dict)
        for entity in next(iter(entry.values()))["use_entities"]
    }
    assert carried == {"after", "slot_id", "booking_id"}
    assert carried <= set(domain["entities"])


def test_every_intent_has_40_chinese_and_10_english_examples(data: TrainingData) -> None:
    chinese = Counter(e.intent for e in data.examples if CJK.search(e.text))
    english = Counter(e.intent for e in data.examples if not CJK.search(e.text))
    short = {
        i: (chinese[i], english[i]) for i in data.intents if chinese[i] < 40 or english[i] < 10
    }
    assert short == {}


def test_no_example_is_given_twice(data: TrainingData) -> None:
    counts = Counter(e.text.strip().lower() for e in data.examples)
    assert [text for text, n in counts.items() if n > 1] == []


def test_annotated_entities_are_declared_and_each_has_a_regex_or_lookup(
    domain: dict[str, Any], data: TrainingData
) -> None:
    # Entities only buttons' payloads carry are neither annotated nor patterned.
    carried = {
        entity
        for entry in domain["intents"]
        if isinstance(entry, dict)
        for entity in next(iter(entry.values())).get("use_entities") or []
    }
    declared = set(domain["entities"]) - carried
    patterned = {r.name for r in data.regexes} | {t.name for t in data.lookups}
    assert set(data.entities) == declared
    assert declared <= patterned


def test_regexes_and_lookups_find_every_annotation(data: TrainingData) -> None:
    """DIET does not extract entities here, so what is annotated must be what the patterns
    find, with the annotated value after synonym mapping."""
    extractor = EntityExtractor.from_training_data(
        data.regexes, data.lookups, data.synonyms, entities=data.entities
    )
    missed = []
    for example in data.examples:
        found = {(e.entity, e.start, e.end, e.value) for e in extractor.extract(example.text)}
        missed += [
            (example.text, span.entity)
            for span in example.entities
            if (
                span.entity,
                span.start,
                span.end,
                data.synonyms.get(span.value.lower(), span.value),
            )
            not in found
        ]
    assert missed == []


def test_no_lookup_element_hides_a_longer_one_behind_it(data: TrainingData) -> None:
    """Rasa joins lookup elements in file order; a prefix listed first wins the match."""
    hidden = []
    for table in data.lookups:
        pattern = re.compile(lookup_pattern(table), re.IGNORECASE)
        hidden += [(table.name, e) for e in table.elements if pattern.match(e).group() != e]  # type: ignore[union-attr]
    assert hidden == []


def test_synonyms_name_values_the_patterns_can_produce(data: TrainingData) -> None:
    extractor = EntityExtractor.from_training_data(
        data.regexes, data.lookups, data.synonyms, entities=data.entities
    )
    extracted = {
        example.text[e.start : e.end].lower()
        for example in data.examples
        for e in extractor.extract(example.text)
    }
    listed = {element.lower() for table in data.lookups for element in table.elements}
    assert [surface for surface in data.synonyms if surface not in extracted | listed] == []


def test_slots_forms_and_responses_fit_together(domain: dict[str, Any]) -> None:
    entities = set(domain["entities"])
    slots = domain["slots"]
    for name, slot in slots.items():
        for mapping in slot["mappings"]:
            if mapping["type"] == "from_entity":
                assert mapping["entity"] in entities, name
    for form in domain["forms"].values():
        for slot in form["required_slots"]:
            assert slot in slots
            assert f"utter_ask_{slot}" in domain["responses"]
    for name, variants in domain["responses"].items():
        default = [v for v in variants if "condition" not in v]
        english = [
            v
            for v in variants
            if any(
                c.get("name") == "language" and c.get("value") == "en"
                for c in v.get("condition", [])
            )
        ]
        assert default, f"{name} has no unconditional (zh-CN) variant"
        assert english, f"{name} has no English variant"
        assert all(CJK.search(v["text"]) for v in default), name


def test_rules_and_stories_only_name_known_intents_actions_and_forms(
    project: RasaProject, domain: dict[str, Any]
) -> None:
    intents = {*project.all_intents(), FALLBACK_INTENT}
    actions = {
        *domain["actions"],
        *domain["responses"],
        *domain["forms"],
        *RASA_DEFAULT_ACTIONS,
    }
    steps = _dialogue_steps(project)
    assert {s["intent"] for s in steps if "intent" in s} <= intents
    assert {s["action"] for s in steps if "action" in s} <= actions
    assert {s["active_loop"] for s in steps if s.get("active_loop")} <= set(domain["forms"])
    used = {s["action"] for s in steps if "action" in s}
    assert set(domain["actions"]) - {"validate_bind_form"} <= used


def test_test_stories_are_not_training_examples(project: RasaProject, data: TrainingData) -> None:
    from nlu.training_data import parse_annotated_text

    trained = {e.text.strip().lower() for e in data.examples}
    user_texts = [
        parse_annotated_text(s["user"].strip())[0].lower()
        for s in _dialogue_steps(project)
        if "user" in s
    ]
    assert len(user_texts) >= 10
    assert [t for t in user_texts if t in trained] == []


def test_pipeline_is_a_chinese_capable_rasa_36_pipeline(project: RasaProject) -> None:
    config = project.read_config()
    components = [c["name"] for c in config["pipeline"]]
    assert config["language"] == "zh"
    assert components[0] == "JiebaTokenizer"
    for required in (
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "DIETClassifier",
        "RegexEntityExtractor",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ):
        assert required in components
    analyzers = {
        c.get("analyzer", "word")
        for c in config["pipeline"]
        if c["name"] == "CountVectorsFeaturizer"
    }
    assert analyzers == {"word", "char_wb"}
    # The synonym mapper must run after the extractor whose values it maps.
    assert components.index("EntitySynonymMapper") > components.index("RegexEntityExtractor")
    assert project.jieba_dictionaries() == [REPOSITORY_ROOT / "data" / "jieba" / "recruiting.txt"]
    assert project.fallback_thresholds() == FallbackThresholds(threshold=0.65, ambiguity=0.1)


def test_fingerprint_follows_the_training_files(tiny_project: RasaProject) -> None:
    before = tiny_project.fingerprint(salt="v1")
    assert tiny_project.fingerprint(salt="v1") == before
    assert tiny_project.fingerprint(salt="v2") != before
    nlu = tiny_project.nlu_paths[0]
    nlu.write_text(nlu.read_text(encoding="utf-8") + "      - 在吗\n", encoding="utf-8")
    assert tiny_project.fingerprint(salt="v1") != before


def test_domain_that_is_not_a_mapping_is_refused(tiny_project: RasaProject) -> None:
    tiny_project.domain_path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="expected a mapping"):
        tiny_project.intents()
