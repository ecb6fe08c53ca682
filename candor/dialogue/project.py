"""What the embedded engine reads from the Rasa files: the domain's slots, forms, actions and
responses, and the rules and stories as sequences of turns.

Nothing here is a second copy: every intent, action and response name comes from
domain.yml and data/*.yml (through `nlu.project.RasaProject`), read once per process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nlu.project import RasaProject

ACTION_LISTEN = "action_listen"
DEFAULT_FALLBACK = "utter_default"
REQUESTED_SLOT = "requested_slot"


class DialogueFileError(ValueError):
    """The rules, stories or domain cannot be read as Rasa 3 files."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a rule or story: a user intent, a bot action, or a form (de)activation."""

    kind: str  # "intent", "action", "active_loop"
    name: str | None


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    is_rule: bool


@dataclass(frozen=True, slots=True)
class SlotMapping:
    entity: str


@dataclass(frozen=True, slots=True)
class TextMapping:
    """A slot filled with the message's text while a form asks for it (`from_text` with an
    `active_loop` / `requested_slot` condition), unless the message is one of `not_intent`."""

    form: str
    not_intents: frozenset[str]


@dataclass(frozen=True, slots=True)
class Response:
    text: str
    buttons: tuple[tuple[str, str], ...]
    condition: tuple[tuple[str, Any], ...]  # (slot, value) pairs that must all hold


@dataclass(frozen=True, slots=True)
class DialogueProject:
    domain: dict[str, Any]
    intents: tuple[str, ...]
    actions: frozenset[str]
    forms: Mapping[str, tuple[str, ...]]  # form -> required slots
    slot_mappings: Mapping[str, tuple[SlotMapping, ...]]
    initial_slots: Mapping[str, Any]
    responses: Mapping[str, tuple[Response, ...]]
    flows: tuple[Flow, ...] = field(default_factory=tuple)
    text_mappings: Mapping[str, TextMapping] = field(default_factory=dict)

    @classmethod
    def load(cls, project: RasaProject) -> DialogueProject:
        domain = project.read_domain()
        forms = {
            name: tuple((spec or {}).get("required_slots") or [])
            for name, spec in (domain.get("forms") or {}).items()
        }
        mappings: dict[str, tuple[SlotMapping, ...]] = {}
        text_mappings: dict[str, TextMapping] = {}
        initial: dict[str, Any] = {}
        for slot, spec in (domain.get("slots") or {}).items():
            spec = spec or {}
            initial[slot] = spec.get("initial_value")
            mappings[slot] = tuple(
                SlotMapping(str(m["entity"]))
                for m in spec.get("mappings") or []
                if m.get("type") == "from_entity" and "entity" in m and not m.get("conditions")
            )
            for m in spec.get("mappings") or []:
                if m.get("type") != "from_text":
                    continue
                for condition in m.get("conditions") or []:
                    form = condition.get("active_loop")
                    if form and condition.get("requested_slot") == slot:
                        text_mappings[slot] = TextMapping(
                            str(form), frozenset(str(i) for i in m.get("not_intent") or [])
                        )
        initial[REQUESTED_SLOT] = None
        responses = {
            name: tuple(_response(variant) for variant in variants or [])
            for name, variants in (domain.get("responses") or {}).items()
        }
        flows: list[Flow] = []
        for path in project.dialogue_paths:
            flows.extend(_flows(path))
        return cls(
            domain=domain,
            intents=tuple(project.all_intents()),
            actions=frozenset(str(a) for a in domain.get("actions") or []),
            forms=forms,
            slot_mappings=mappings,
            initial_slots=initial,
            responses=responses,
            flows=tuple(flows),
            text_mappings=text_mappings,
        )

    def is_form(self, name: str) -> bool:
        return name in self.forms

    def is_response(self, name: str) -> bool:
        return name in self.responses

    def rasa_domain(self) -> dict[str, Any]:
        """The domain as rasa-sdk's actions receive it (Rasa sends the same dict)."""
        return self.domain


def _response(variant: Mapping[str, Any]) -> Response:
    buttons = tuple(
        (str(button["title"]), str(button["payload"])) for button in variant.get("buttons") or []
    )
    condition = tuple(
        (str(c["name"]), c.get("value"))
        for c in variant.get("condition") or []
        if c.get("type") == "slot"
    )
    return Response(str(variant.get("text", "")), buttons, condition)


def _flows(path: Path) -> list[Flow]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DialogueFileError(f"{path}: not valid YAML: {exc}") from exc
    flows: list[Flow] = []
    for key, is_rule in (("rules", True), ("stories", False)):
        for entry in document.get(key) or []:
            name = str(entry.get("rule") or entry.get("story") or "?")
            flows.append(Flow(name, tuple(_steps(entry.get("steps") or [], path)), is_rule))
    return flows


def _steps(raw: Sequence[Mapping[str, Any]], path: Path) -> list[Step]:
    steps: list[Step] = []
    for step in raw:
        if "intent" in step:
            steps.append(Step("intent", str(step["intent"])))
        elif "action" in step:
            steps.append(Step("action", str(step["action"])))
        elif "active_loop" in step:
            loop = step["active_loop"]
            steps.append(Step("active_loop", None if loop is None else str(loop)))
        elif "slot_was_set" in step or "checkpoint" in step or "or" in step:
            continue  # slot events follow from the actions; checkpoints are not used here
        else:
            raise DialogueFileError(f"{path}: unsupported step {dict(step)!r}")
    return steps


@lru_cache(maxsize=4)
def load_project(root: Path) -> DialogueProject:
    return DialogueProject.load(RasaProject(root))
