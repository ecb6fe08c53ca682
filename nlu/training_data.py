"""A reader for Rasa 3 NLU training data (`data/nlu.yml`), shared by the embedded engine.

Covers what our files use of Rasa's format: `intent`, `synonym`, `regex` and `lookup`
items; examples given as a `- ` block or as a list of `{text: ...}` mappings; entity
annotations `[text](entity)`, `[text](entity:value)` and `[text]{"entity": .., "value": ..}`.
An annotation whose value differs from its text also defines a synonym, as in Rasa.
A bracketed text that is not followed by `(` or `{` (WeChat's `[微笑]`) stays plain text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|(?P<json>\{[^}]+?\}))"
)
ITEM_KINDS = ("intent", "synonym", "regex", "lookup")


class TrainingDataError(ValueError):
    """The training data cannot be read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int
    role: str | None = None


@dataclass(frozen=True, slots=True)
class TrainingExample:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()


@dataclass(frozen=True, slots=True)
class RegexPattern:
    name: str
    pattern: str


@dataclass(frozen=True, slots=True)
class LookupTable:
    name: str
    elements: tuple[str, ...]


@dataclass(slots=True)
class TrainingData:
    examples: list[TrainingExample] = field(default_factory=list)
    # Lower-cased surface text -> canonical value, as Rasa's EntitySynonymMapper keys them.
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[RegexPattern] = field(default_factory=list)
    lookups: list[LookupTable] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        """Intents in order of first appearance."""
        return list(dict.fromkeys(example.intent for example in self.examples))

    @property
    def entities(self) -> list[str]:
        """Entity types annotated somewhere in the examples, in order of first appearance."""
        return list(
            dict.fromkeys(span.entity for example in self.examples for span in example.entities)
        )

    def subset(self, indices: Iterable[int]) -> TrainingData:
        """The same synonyms, regexes and lookups with only the chosen examples."""
        return TrainingData(
            [self.examples[i] for i in indices],
            dict(self.synonyms),
            list(self.regexes),
            list(self.lookups),
        )

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        self.regexes.extend(other.regexes)
        self.lookups.extend(other.lookups)


def parse_annotated_text(annotated: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip entity annotations from one example; return the plain text and the spans."""
    parts: list[str] = []
    spans: list[EntitySpan] = []
    position = 0  # in the plain text being built
    last = 0  # in the annotated input
    for match in ANNOTATION.finditer(annotated):
        parts.append(annotated[last : match.start()])
        position += match.start() - last
        surface = match.group("text")
        entity, value, role = _annotation_target(match, surface)
        spans.append(EntitySpan(entity, value, position, position + len(surface), role))
        parts.append(surface)
        position += len(surface)
        last = match.end()
    parts.append(annotated[last:])
    return "".join(parts), tuple(spans)


def _annotation_target(match: re.Match[str], surface: str) -> tuple[str, str, str | None]:
    if match.group("json") is None:
        return match.group("entity").strip(), (match.group("value") or surface).strip(), None
    try:
        spec = json.loads(match.group("json"))
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"invalid entity annotation {match.group(0)!r}: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise TrainingDataError(f"entity annotation {match.group(0)!r} has no entity name")
    role = spec.get("role")
    return spec["entity"], str(spec.get("value", surface)), str(role) if role else None


def read_nlu_yaml(source: str, *, origin: str = "<string>") -> TrainingData:
    """Parse the text of one Rasa NLU YAML file."""
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{origin}: not valid YAML: {exc}") from exc
    data = TrainingData()
    if document is None:
        return data
    if not isinstance(document, Mapping):
        raise TrainingDataError(f"{origin}: expected a mapping with an 'nlu' key")
    items = document.get("nlu")
    if items is None:
        return data
    if not isinstance(items, list):
        raise TrainingDataError(f"{origin}: 'nlu' must be a list")
    for index, item in enumerate(items):
        _read_item(data, item, where=f"{origin}: nlu item {index + 1}")
    return data


def _read_item(data: TrainingData, item: Any, *, where: str) -> None:
    if not isinstance(item, Mapping):
        raise TrainingDataError(f"{where}: expected a mapping")
    kinds = [kind for kind in ITEM_KINDS if kind in item]
    if len(kinds) != 1:
        raise TrainingDataError(f"{where}: needs exactly one of {', '.join(ITEM_KINDS)}")
    kind = kinds[0]
    name = str(item[kind]).strip()
    if not name:
        raise TrainingDataError(f"{where}: empty {kind} name")
    lines = _example_lines(item.get("examples"), where=f"{where} ({kind} {name})")
    if kind == "intent":
        for line in lines:
            try:
                text, spans = parse_annotated_text(line)
            except TrainingDataError as exc:
                raise TrainingDataError(f"{where} (intent {name}): {exc}") from exc
            data.examples.append(TrainingExample(text, name, spans))
            for span in spans:
                surface = text[span.start : span.end]
                if surface != span.value:
                    data.synonyms[surface.lower()] = span.value
    elif kind == "synonym":
        for line in lines:
            data.synonyms[line.lower()] = name
    elif kind == "regex":
        for line in lines:
            try:
                re.compile(line)
            except re.error as exc:
                raise TrainingDataError(f"{where} (regex {name}): {line!r}: {exc}") from exc
            data.regexes.append(RegexPattern(name, line))
    else:
        data.lookups.append(LookupTable(name, tuple(lines)))


def _example_lines(examples: Any, *, where: str) -> list[str]:
    if isinstance(examples, str):
        lines = []
        for raw in examples.splitlines():
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                raise TrainingDataError(f"{where}: example lines start with '- ': {raw!r}")
            lines.append(stripped[2:].strip())
    elif isinstance(examples, list):
        lines = []
        for entry in examples:
            text = entry.get("text") if isinstance(entry, Mapping) else None
            if not isinstance(text, str):
                raise TrainingDataError(f"{where}: list examples need a 'text' string")
            lines.append(text.strip())
    else:
        raise TrainingDataError(f"{where}: missing 'examples'")
    if not all(lines):
        raise TrainingDataError(f"{where}: empty example")
    return lines


def load_training_data(paths: Iterable[Path]) -> TrainingData:
    """Read and merge several NLU files, in order."""
    data = TrainingData()
    for path in paths:
        data.merge(read_nlu_yaml(path.read_text(encoding="utf-8"), origin=str(path)))
    return data
