from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlu.evaluation import (
    EvaluationFileError,
    LabelledText,
    Prediction,
    cross_validate,
    format_report,
    read_labelled_jsonl,
    score,
    stratified_folds,
    threshold_sweep,
)
from nlu.model import open_tokenizer, train
from nlu.project import FallbackThresholds, RasaProject


def _predictions(*pairs: tuple[str, str]) -> list[Prediction]:
    return [Prediction(f"t{i}", gold, predicted) for i, (gold, predicted) in enumerate(pairs)]


def test_scores_match_a_hand_computed_example() -> None:
    # greet: 2 gold, predicted right once and once as thank; thank: 1 gold, right;
    # deny: 1 gold, predicted as greet.
    report = score(
        _predictions(("greet", "greet"), ("greet", "thank"), ("thank", "thank"), ("deny", "greet"))
    )
    metrics = {m.intent: (m.precision, m.recall, m.f1, m.support) for m in report.intents}

    assert metrics == {
        "deny": (0.0, 0.0, 0.0, 1),
        "greet": (0.5, 0.5, 0.5, 2),
        "thank": (0.5, 1.0, pytest.approx(2 / 3), 1),
    }
    assert report.accuracy == 0.5
    assert report.macro_f1 == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    assert report.confusions == (("deny", "greet", 1), ("greet", "thank", 1))


def test_report_ends_with_the_summary_line() -> None:
    report = score(_predictions(("greet", "greet"), ("greet", "thank"), ("thank", "thank")))
    text = format_report(report)

    assert text.splitlines()[-1] == "accuracy=0.6667 macro_f1=0.6667"
    assert "greet -> thank: 1" in text
    assert "precision" in text.splitlines()[0]


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=60), st.integers(2, 6))
def test_folds_partition_the_examples_and_spread_each_intent(labels: list[str], k: int) -> None:
    folds = stratified_folds(labels, k)

    assert sorted(i for fold in folds for i in fold) == list(range(len(labels)))
    for label in set(labels):
        per_fold = [sum(labels[i] == label for i in fold) for fold in folds]
        assert max(per_fold) - min(per_fold) <= 1


def test_cross_validation_predicts_every_example_once(tiny_project: RasaProject) -> None:
    data = tiny_project.training_data()
    tokenizer = open_tokenizer(tiny_project, tiny_project.root / "cache")
    examples = [LabelledText(e.text, e.intent) for e in data.examples]
    trained_on: list[list[int]] = []

    def train_on(indices: list[int]) -> object:
        trained_on.append(indices)
        return train(
            data.subset(indices), tokenizer=tokenizer, thresholds=FallbackThresholds(0.5, 0.1)
        )

    predictions = cross_validate(examples, train_on, folds=3)  # type: ignore[arg-type]

    assert sorted(p.text for p in predictions) == sorted(e.text for e in examples)
    everything = set(range(len(examples)))
    held_out = stratified_folds([e.intent for e in examples], 3)
    for fold, indices in zip(held_out, trained_on, strict=True):
        assert set(indices) == everything - set(fold)


def test_the_sweep_trades_clarifying_questions_for_wrong_answers() -> None:
    predictions = [
        Prediction("a", "greet", "greet", confidence=0.9, margin=0.8),
        Prediction("b", "greet", "thank", confidence=0.45, margin=0.3),  # wrong, fairly sure
        Prediction("c", "deny", "deny", confidence=0.45, margin=0.05),  # too close to call
        Prediction("d", "deny", "deny", confidence=0.35, margin=0.2),
    ]

    low, middle, high = threshold_sweep(predictions, [0.3, 0.4, 0.5], ambiguity=0.1)

    assert (low.threshold, low.fallback_rate, low.wrong_rate) == (0.3, 0.25, 0.25)
    assert low.answered_accuracy == pytest.approx(2 / 3)
    assert (middle.fallback_rate, middle.wrong_rate, middle.answered_accuracy) == (0.5, 0.25, 0.5)
    assert (high.fallback_rate, high.wrong_rate, high.answered_accuracy) == (0.75, 0.0, 1.0)


def test_reads_labelled_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(
        json.dumps({"text": "你好", "intent": "greet"}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"text": "bye", "intent": "goodbye", "note": "extra keys are fine"})
        + "\n",
        encoding="utf-8",
    )
    assert read_labelled_jsonl(path) == [
        LabelledText("你好", "greet"),
        LabelledText("bye", "goodbye"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "hi", "intent": "greet"}\n{oops\n', r"eval.jsonl:2: not JSON"),
        ('{"text": "hi"}\n', r"eval.jsonl:1: expected"),
        ('["hi", "greet"]\n', r"eval.jsonl:1: expected"),
        ("\n", "no examples"),
    ],
)
def test_bad_evaluation_files_say_which_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvaluationFileError, match=message):
        read_labelled_jsonl(path)
