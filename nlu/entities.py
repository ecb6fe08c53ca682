"""Regex and lookup-table entity extraction with synonym mapping, as Rasa 3.6 does it.

Mirrors RegexEntityExtractor (case-insensitive, `use_word_boundaries: false`, lookup
elements escaped and joined in file order) followed by EntitySynonymMapper (lower-cased
surface text -> canonical value), so both engines return the same entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nlu.training_data import LookupTable, RegexPattern


@dataclass(frozen=True, slots=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int

    def to_dict(self) -> dict[str, object]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end}


def lookup_pattern(table: LookupTable) -> str:
    return "(" + "|".join(re.escape(element) for element in table.elements) + ")"


class EntityExtractor:
    def __init__(
        self,
        patterns: Iterable[tuple[str, str]],
        synonyms: Mapping[str, str],
    ) -> None:
        self.patterns = [(name, pattern) for name, pattern in patterns]
        self._compiled = [
            (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in self.patterns
        ]
        self.synonyms = dict(synonyms)

    @classmethod
    def from_training_data(
        cls,
        regexes: Iterable[RegexPattern],
        lookups: Iterable[LookupTable],
        synonyms: Mapping[str, str],
        *,
        entities: Iterable[str],
    ) -> EntityExtractor:
        """Like Rasa, only patterns named after an entity annotated in the data are used."""
        wanted = set(entities)
        patterns = [(r.name, r.pattern) for r in regexes if r.name in wanted]
        patterns += [(t.name, lookup_pattern(t)) for t in lookups if t.name in wanted]
        return cls(patterns, synonyms)

    def extract(self, text: str) -> list[Entity]:
        found: dict[tuple[str, int, int], Entity] = {}
        for name, regex in self._compiled:
            for match in regex.finditer(text):
                if match.end() == match.start():
                    continue
                surface = text[match.start() : match.end()]
                value = self.synonyms.get(surface.lower(), surface)
                found.setdefault(
                    (name, match.start(), match.end()),
                    Entity(name, value, match.start(), match.end()),
                )
        return sorted(found.values(), key=lambda e: (e.start, e.end, e.entity))
