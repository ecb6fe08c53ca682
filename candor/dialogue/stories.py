"""Rasa's end-to-end test stories (`tests/test_stories.yml`), read into turns that any engine
can be checked against: what the user wrote (markup removed) or the button they pressed (an
intent step without text), the intent and entities it must be read as, and the actions,
form changes and slots that must follow."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from candor.dialogue.project import DialogueFileError

# [surface](entity), [surface]{"entity": "name", "value": "v"}, or [surface](entity:value)
_MARKUP = re.compile(r"\[(?P<surface>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<long>\{[^}]*\}))")


@dataclass(frozen=True, slots=True)
class ExpectedEntity:
    entity: str
    value: str
    surface: str  # the annotated text; an extractor's synonym may normalise the value


@dataclass(slots=True)
class StoryTurn:
    text: str
    intent: str | None
    entities: tuple[ExpectedEntity, ...]
    actions: list[str] = field(default_factory=list)
    active_loops: list[str | None] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class E2EStory:
    name: str
    turns: tuple[StoryTurn, ...]


def strip_markup(text: str) -> tuple[str, tuple[ExpectedEntity, ...]]:
    """The plain text of an annotated message, and the entities its markup names."""
    entities: list[ExpectedEntity] = []

    def plain(match: re.Match[str]) -> str:
        surface = match.group("surface")
        if match.group("short"):
            name, _, value = match.group("short").partition(":")
            entities.append(ExpectedEntity(name.strip(), value.strip() or surface, surface))
        else:
            try:
                spec = yaml.safe_load(match.group("long")) or {}
            except yaml.YAMLError as exc:
                raise DialogueFileError(f"bad entity markup {match.group(0)!r}") from exc
            value = str(spec.get("value", surface))
            entities.append(ExpectedEntity(str(spec["entity"]), value, surface))
        return surface

    return _MARKUP.sub(plain, text).strip(), tuple(entities)


def parse_test_stories(document: Mapping[str, Any]) -> list[E2EStory]:
    stories: list[E2EStory] = []
    for entry in document.get("stories") or []:
        name = str(entry.get("story") or "?")
        stories.append(E2EStory(name, tuple(_turns(name, entry.get("steps") or []))))
    return stories


def load_test_stories(path: Path) -> list[E2EStory]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DialogueFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise DialogueFileError(f"{path}: expected a mapping")
    return parse_test_stories(document)


def _turns(story: str, steps: Sequence[Mapping[str, Any]]) -> list[StoryTurn]:
    turns: list[StoryTurn] = []
    for step in steps:
        if "user" in step:
            text, entities = strip_markup(str(step["user"]))
            intent = step.get("intent")
            turns.append(StoryTurn(text, str(intent) if intent else None, entities))
            continue
        if "intent" in step:
            turns.append(_button_press(story, step))
            continue
        if not turns:
            raise DialogueFileError(f"story {story!r}: a bot step before any user step")
        turn = turns[-1]
        if "action" in step:
            turn.actions.append(str(step["action"]))
        elif "active_loop" in step:
            loop = step["active_loop"]
            turn.active_loops.append(None if loop is None else str(loop))
        elif "slot_was_set" in step:
            for item in step["slot_was_set"] or []:
                if isinstance(item, Mapping):
                    turn.slots.update(item)
    return turns


def _button_press(story: str, step: Mapping[str, Any]) -> StoryTurn:
    """An intent step without the user's text is a button's press: its payload is the
    intent with the step's entities, `/choose_slot{"slot_id": "1"}`, as a button sends it."""
    values: dict[str, str] = {}
    for item in step.get("entities") or []:
        if not isinstance(item, Mapping) or len(item) != 1:
            raise DialogueFileError(f"story {story!r}: entities are `- name: value` items")
        ((name, value),) = item.items()
        values[str(name)] = str(value)
    intent = str(step["intent"])
    payload = f"/{intent}{json.dumps(values, ensure_ascii=False)}" if values else f"/{intent}"
    entities = tuple(ExpectedEntity(name, value, value) for name, value in values.items())
    return StoryTurn(payload, intent, entities)
