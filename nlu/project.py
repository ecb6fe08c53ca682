"""Where the Rasa project files live, and the few facts the embedded engine reads from them.

The intent taxonomy is `domain.yml`'s `intents` list and nothing else; the fallback
thresholds are the FallbackClassifier's in `config.yml`; the jieba dictionaries are the
JiebaTokenizer's `dictionary_path`. Reading them here keeps a single copy of each rule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlu.training_data import TrainingData, TrainingDataError, load_training_data

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
FALLBACK_INTENT = "nlu_fallback"
DEFAULT_FALLBACK_THRESHOLD = 0.3  # Rasa's FallbackClassifier defaults
DEFAULT_AMBIGUITY_THRESHOLD = 0.1


@dataclass(frozen=True, slots=True)
class FallbackThresholds:
    """Below `threshold`, or with the top two intents closer than `ambiguity`, the parse
    result's intent becomes `nlu_fallback` (as Rasa's FallbackClassifier does)."""

    threshold: float = DEFAULT_FALLBACK_THRESHOLD
    ambiguity: float = DEFAULT_AMBIGUITY_THRESHOLD


@dataclass(frozen=True, slots=True)
class RasaProject:
    """The one set of Rasa files both engines read."""

    root: Path

    @classmethod
    def default(cls) -> RasaProject:
        return cls(REPOSITORY_ROOT)

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    @property
    def domain_path(self) -> Path:
        return self.root / "domain.yml"

    @property
    def nlu_paths(self) -> list[Path]:
        return [self.root / "data" / "nlu.yml"]

    @property
    def dialogue_paths(self) -> list[Path]:
        return [self.root / "data" / "rules.yml", self.root / "data" / "stories.yml"]

    @property
    def test_stories_path(self) -> Path:
        return self.root / "tests" / "test_stories.yml"

    def read_config(self) -> dict[str, Any]:
        return _read_mapping(self.config_path)

    def read_domain(self) -> dict[str, Any]:
        return _read_mapping(self.domain_path)

    def intents(self) -> list[str]:
        """The intent taxonomy, from domain.yml: the intents the NLU classifies (every one
        but the button intents)."""
        return [name for name, properties in self._intent_entries() if not _is_button(properties)]

    def button_intents(self) -> list[str]:
        """The intents only a button's payload sends (`/choose_slot{"slot_id": "12"}`): no
        training examples, never classified; marked in domain.yml by the entities their
        payload carries (`use_entities`)."""
        return [name for name, properties in self._intent_entries() if _is_button(properties)]

    def all_intents(self) -> list[str]:
        """Every intent the dialogue knows: the classified ones, then the button intents."""
        return [*self.intents(), *self.button_intents()]

    def _intent_entries(self) -> list[tuple[str, dict[str, Any]]]:
        entries: list[tuple[str, dict[str, Any]]] = []
        for entry in self.read_domain().get("intents") or []:
            if isinstance(entry, dict):
                name = next(iter(entry))
                entries.append((str(name), dict(entry[name] or {})))
            else:
                entries.append((str(entry), {}))
        return entries

    def training_data(self) -> TrainingData:
        return load_training_data(self.nlu_paths)

    def jieba_dictionaries(self) -> list[Path]:
        """User dictionaries named by the JiebaTokenizer's dictionary_path, sorted."""
        component = self._pipeline_component("JiebaTokenizer")
        directory = (component or {}).get("dictionary_path")
        if not directory:
            return []
        path = self.root / str(directory)
        return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else []

    def fallback_thresholds(self) -> FallbackThresholds:
        component = self._pipeline_component("FallbackClassifier")
        if component is None:
            return FallbackThresholds(threshold=0.0, ambiguity=0.0)
        return FallbackThresholds(
            threshold=float(component.get("threshold", DEFAULT_FALLBACK_THRESHOLD)),
            ambiguity=float(component.get("ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD)),
        )

    def training_files(self) -> list[Path]:
        """Every file whose content shapes the embedded NLU model."""
        return [*self.nlu_paths, self.config_path, *self.jieba_dictionaries()]

    def fingerprint(self, *, salt: str) -> str:
        """A digest of the training files' names and bytes, plus `salt` (the model format)."""
        digest = hashlib.sha256(salt.encode())
        for path in self.training_files():
            digest.update(path.name.encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()

    def _pipeline_component(self, name: str) -> dict[str, Any] | None:
        for component in self.read_config().get("pipeline") or []:
            if isinstance(component, dict) and component.get("name") == name:
                return component
        return None


def _is_button(properties: dict[str, Any]) -> bool:
    return isinstance(properties.get("use_entities"), list)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TrainingDataError(f"{path}: expected a mapping")
    return document
