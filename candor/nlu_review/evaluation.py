"""The blind evaluation sets and the figures a model must not lose on them.

A blind set is a JSON-lines file `{"text", "intent"}` under `CANDOR_NLU_EVAL_DIR` (default
`tests/nlu/eval`). They are never trained on: a reviewed example whose text matches one of
theirs (`nlu.evaluation.overlap_key`) is refused. Every model is scored on each set as
`candor nlu evaluate` scores a file: best-guess accuracy, macro-F1, and the share of
messages that would get a clarifying question (below the fallback threshold).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from candor.settings import Settings
from nlu.evaluation import (
    EvaluationFileError,
    LabelledText,
    NluEngine,
    overlap_key,
    predict,
    read_labelled_jsonl,
    score,
)
from nlu.project import RasaProject

# Figures are compared exactly; this only absorbs floating-point noise.
EPSILON = 1e-9
# metric -> True when higher is better
METRICS = {"accuracy": True, "macro_f1": True, "clarifying": False}
METRIC_LABELS = {"accuracy": "accuracy", "macro_f1": "macro-F1", "clarifying": "clarifying %"}

Figures = dict[str, dict[str, Any]]  # blind set name -> {accuracy, macro_f1, clarifying, total}


class BlindSetError(ValueError):
    """The blind evaluation sets are missing or unreadable."""


@dataclass(frozen=True, slots=True)
class BlindSet:
    name: str
    examples: tuple[LabelledText, ...]


@dataclass(frozen=True, slots=True)
class BlindSets:
    directory: Path
    sets: tuple[BlindSet, ...]
    digest: str  # of the files' names and bytes
    _keys: Mapping[str, str]  # overlap key -> the first set holding it

    def holding(self, text: str) -> str | None:
        """The name of a blind set holding `text` (compared by overlap key), if any."""
        return self._keys.get(overlap_key(text))


def eval_dir(settings: Settings) -> Path:
    return settings.nlu_eval_dir or RasaProject.default().root / "tests" / "nlu" / "eval"


_cache: dict[tuple[Path, tuple[tuple[str, int, int], ...]], BlindSets] = {}
_cache_lock = threading.Lock()


def load_blind_sets(directory: Path) -> BlindSets:
    """Every `*.jsonl` in `directory`, read once per change of the files."""
    try:
        paths = sorted(p for p in directory.glob("*.jsonl") if p.is_file())
        stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError as exc:
        raise BlindSetError(f"the blind evaluation sets in {directory}: {exc}") from exc
    if not paths:
        raise BlindSetError(f"no blind evaluation sets (*.jsonl) in {directory}")
    key = (directory, stamp)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    sets: list[BlindSet] = []
    keys: dict[str, str] = {}
    for path in paths:
        try:
            examples = read_labelled_jsonl(path)
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except (OSError, EvaluationFileError) as exc:
            raise BlindSetError(str(exc)) from exc
        sets.append(BlindSet(path.name, tuple(examples)))
        for example in examples:
            keys.setdefault(overlap_key(example.text), path.name)
    loaded = BlindSets(directory, tuple(sets), digest.hexdigest(), keys)
    with _cache_lock:
        _cache.clear()  # only the current files are worth keeping
        _cache[key] = loaded
    return loaded


def measure(engine: NluEngine, blind: BlindSets) -> Figures:
    """The engine's figures on every blind set."""
    figures: Figures = {}
    for blind_set in blind.sets:
        report = score(predict(engine, blind_set.examples))
        figures[blind_set.name] = {
            "accuracy": report.accuracy,
            "macro_f1": report.macro_f1,
            "clarifying": report.fallbacks / report.total,
            "total": report.total,
        }
    return figures


@dataclass(frozen=True, slots=True)
class Regression:
    blind_set: str
    metric: str
    current: float
    candidate: float

    def describe(self) -> str:
        label = METRIC_LABELS[self.metric]
        if math.isnan(self.candidate):
            return f"{self.blind_set}: the candidate has no {label} on this set"
        if self.metric == "clarifying":
            return (
                f"{self.blind_set}: {label} {self.candidate:.1%} is above the current "
                f"{self.current:.1%}"
            )
        return (
            f"{self.blind_set}: {label} {self.candidate:.4f} is below the current "
            f"{self.current:.4f}"
        )


def regressions(candidate: Figures, current: Figures) -> list[Regression]:
    """Every figure of every blind set on which the candidate does worse than the current
    model; a set the candidate was not measured on counts as lost."""
    found: list[Regression] = []
    for name in sorted(current):
        theirs = current[name]
        ours = candidate.get(name)
        for metric, higher_is_better in METRICS.items():
            before = float(theirs[metric])
            if ours is None:
                found.append(Regression(name, metric, before, float("nan")))
                continue
            after = float(ours[metric])
            worse = after < before - EPSILON if higher_is_better else after > before + EPSILON
            if worse:
                found.append(Regression(name, metric, before, after))
    return found


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: str
    label: str
    current: float | None
    candidate: float | None
    worse: bool


@dataclass(frozen=True, slots=True)
class SetComparison:
    blind_set: str
    total: int
    metrics: tuple[MetricComparison, ...]

    @property
    def worse(self) -> bool:
        return any(m.worse for m in self.metrics)


def compare(candidate: Figures, current: Figures) -> list[SetComparison]:
    """The two models' figures side by side, per blind set, each marked when worse."""
    lost = {(r.blind_set, r.metric) for r in regressions(candidate, current)}
    rows = []
    for name in sorted(set(candidate) | set(current)):
        ours, theirs = candidate.get(name) or {}, current.get(name) or {}
        rows.append(
            SetComparison(
                name,
                int(ours.get("total") or theirs.get("total") or 0),
                tuple(
                    MetricComparison(
                        metric,
                        METRIC_LABELS[metric],
                        _figure(theirs, metric),
                        _figure(ours, metric),
                        (name, metric) in lost,
                    )
                    for metric in METRICS
                ),
            )
        )
    return rows


def _figure(figures: dict[str, Any], metric: str) -> float | None:
    value = figures.get(metric)
    return float(value) if isinstance(value, int | float) else None
