"""Intent evaluation: per-intent precision/recall/F1, confusions, accuracy and macro-F1.

Engines are compared on their best-guess intent (the top of the ranking, ignoring an
`nlu_fallback` verdict), so a cautious fallback threshold does not count as a wrong answer;
how often each engine would have fallen back is reported separately.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nlu.model import ParseResult
from nlu.project import FALLBACK_INTENT


def overlap_key(text: str) -> str:
    """A text as compared for overlap between evaluation and training data: NFKC, case-folded,
    without whitespace and punctuation (emoji stay, so 👋 and 👌 differ). "你好！" and "你好"
    are the same text; a blind set must contain neither once the other is trained on."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] not in "PZC")


class NluEngine(Protocol):
    def parse(self, text: str) -> ParseResult: ...


class EvaluationFileError(ValueError):
    """A line of an evaluation file is not `{"text": str, "intent": str}`."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    intent: str


@dataclass(frozen=True, slots=True)
class Prediction:
    text: str
    gold: str
    predicted: str
    fallback: bool = False
    confidence: float = 0.0  # of the best guess
    margin: float = 0.0  # the best guess's lead over the runner-up intent


@dataclass(frozen=True, slots=True)
class IntentMetrics:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    intents: tuple[IntentMetrics, ...]
    accuracy: float
    macro_f1: float
    confusions: tuple[tuple[str, str, int], ...]  # (gold, predicted, count), most first
    total: int
    fallbacks: int
    confident_wrong: int = 0  # answered (not below the threshold) with the wrong intent
    calibration_error: float = 0.0  # expected calibration error of the best guesses


CALIBRATION_BINS = 10


def expected_calibration_error(predictions: Sequence[Prediction]) -> float:
    """How far confidence is from accuracy, weighted over ten equal-width confidence bins:
    0 means "70 % sure" is right 70 % of the time. What makes a fallback threshold mean
    something."""
    bins: list[list[Prediction]] = [[] for _ in range(CALIBRATION_BINS)]
    for p in predictions:
        bins[min(int(p.confidence * CALIBRATION_BINS), CALIBRATION_BINS - 1)].append(p)
    error = 0.0
    for members in bins:
        if members:
            confidence = sum(p.confidence for p in members) / len(members)
            accuracy = sum(p.predicted == p.gold for p in members) / len(members)
            error += len(members) / len(predictions) * abs(confidence - accuracy)
    return error


def read_labelled_jsonl(path: Path) -> list[LabelledText]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationFileError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("text"), str)
            or not isinstance(record.get("intent"), str)
        ):
            raise EvaluationFileError(f'{path}:{number}: expected {{"text": .., "intent": ..}}')
        examples.append(LabelledText(record["text"], record["intent"]))
    if not examples:
        raise EvaluationFileError(f"{path}: no examples")
    return examples


def predict(engine: NluEngine, examples: Iterable[LabelledText]) -> list[Prediction]:
    predictions = []
    for example in examples:
        result = engine.parse(example.text)
        guess = result.best_guess
        runner_up = next(
            (
                score.confidence
                for score in result.intent_ranking
                if score.name not in (FALLBACK_INTENT, guess.name)
            ),
            0.0,
        )
        predictions.append(
            Prediction(
                example.text,
                example.intent,
                guess.name,
                result.is_fallback,
                confidence=guess.confidence,
                margin=guess.confidence - runner_up,
            )
        )
    return predictions


@dataclass(frozen=True, slots=True)
class ThresholdOutcome:
    threshold: float
    fallback_rate: float  # share of messages that would get a clarifying question
    wrong_rate: float  # share of messages answered with the wrong intent
    answered_accuracy: float  # accuracy among the messages answered


def threshold_sweep(
    predictions: Sequence[Prediction], thresholds: Iterable[float], *, ambiguity: float
) -> list[ThresholdOutcome]:
    """What each fallback threshold would trade: clarifying questions against wrong answers,
    judged the way the FallbackClassifier decides (confidence and the lead over the runner-up)."""
    if not predictions:
        raise ValueError("nothing to sweep")
    outcomes = []
    for threshold in thresholds:
        answered = [p for p in predictions if p.confidence >= threshold and p.margin >= ambiguity]
        wrong = sum(p.predicted != p.gold for p in answered)
        outcomes.append(
            ThresholdOutcome(
                threshold=threshold,
                fallback_rate=1 - len(answered) / len(predictions),
                wrong_rate=wrong / len(predictions),
                answered_accuracy=_ratio(len(answered) - wrong, len(answered)),
            )
        )
    return outcomes


def format_sweep(outcomes: Sequence[ThresholdOutcome]) -> str:
    lines = ["threshold  clarifying  wrong  accuracy when answered"]
    for o in outcomes:
        rates = f"{o.fallback_rate:10.1%}  {o.wrong_rate:5.1%}"
        lines.append(f"{o.threshold:9.2f}  {rates}  {o.answered_accuracy:.3f}")
    return "\n".join(lines)


def score(predictions: Sequence[Prediction]) -> EvaluationReport:
    if not predictions:
        raise ValueError("nothing to score")
    labels = sorted({p.gold for p in predictions} | {p.predicted for p in predictions})
    gold_counts = Counter(p.gold for p in predictions)
    predicted_counts = Counter(p.predicted for p in predictions)
    correct = Counter(p.gold for p in predictions if p.gold == p.predicted)
    metrics = []
    for label in labels:
        precision = _ratio(correct[label], predicted_counts[label])
        recall = _ratio(correct[label], gold_counts[label])
        f1 = _ratio(2 * precision * recall, precision + recall)
        metrics.append(IntentMetrics(label, precision, recall, f1, gold_counts[label]))
    confusions = Counter((p.gold, p.predicted) for p in predictions if p.gold != p.predicted)
    return EvaluationReport(
        intents=tuple(metrics),
        accuracy=sum(correct.values()) / len(predictions),
        macro_f1=sum(m.f1 for m in metrics) / len(metrics),
        confusions=tuple(
            (gold, predicted, count)
            for (gold, predicted), count in sorted(
                confusions.items(), key=lambda item: (-item[1], item[0])
            )
        ),
        total=len(predictions),
        fallbacks=sum(p.fallback for p in predictions),
        confident_wrong=sum(not p.fallback and p.predicted != p.gold for p in predictions),
        calibration_error=expected_calibration_error(predictions),
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def format_report(report: EvaluationReport, *, confusions: int = 10) -> str:
    width = max(len("intent"), *(len(m.intent) for m in report.intents))
    lines = [f"{'intent':<{width}}  precision  recall     f1  support"]
    lines += [
        f"{m.intent:<{width}}  {m.precision:9.3f}  {m.recall:6.3f}  {m.f1:5.3f}  {m.support:7d}"
        for m in report.intents
    ]
    lines.append("")
    if report.confusions:
        lines.append("most confused (expected -> predicted: count)")
        lines += [f"  {g} -> {p}: {n}" for g, p, n in report.confusions[:confusions]]
    else:
        lines.append("no confusions")
    lines.append(
        f"examples={report.total} below_fallback_threshold={report.fallbacks} "
        f"({_ratio(report.fallbacks, report.total):.1%})"
    )
    lines.append(
        f"wrong_with_confidence={report.confident_wrong} "
        f"({_ratio(report.confident_wrong, report.total):.1%}) "
        f"calibration_error={report.calibration_error:.3f}"
    )
    lines.append(f"accuracy={report.accuracy:.4f} macro_f1={report.macro_f1:.4f}")
    return "\n".join(lines)


def stratified_folds(labels: Sequence[str], folds: int, *, seed: int = 0) -> list[list[int]]:
    """Split example indices into `folds` groups with each intent spread evenly."""
    import random

    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    shuffled = list(range(len(labels)))
    random.Random(seed).shuffle(shuffled)  # noqa: S311 - reproducible folds, not secrets
    groups: list[list[int]] = [[] for _ in range(folds)]
    by_label: dict[str, list[int]] = {}
    for index in shuffled:
        by_label.setdefault(labels[index], []).append(index)
    position = 0
    for label in sorted(by_label):
        for index in by_label[label]:
            groups[position % folds].append(index)
            position += 1
    return groups


def cross_validate(
    examples: Sequence[LabelledText],
    train_engine: Callable[[list[int]], NluEngine],
    *,
    folds: int,
    seed: int = 0,
) -> list[Prediction]:
    """Train on all folds but one, predict that one; every example is predicted once."""
    predictions: list[Prediction] = []
    groups = stratified_folds([e.intent for e in examples], folds, seed=seed)
    for held_out in groups:
        held = set(held_out)
        engine = train_engine([i for i in range(len(examples)) if i not in held])
        predictions += predict(engine, [examples[i] for i in held_out])
    return predictions
