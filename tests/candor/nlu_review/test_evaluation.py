from __future__ import annotations

import math
from pathlib import Path

import pytest

from candor.nlu_review.evaluation import (
    BlindSetError,
    compare,
    eval_dir,
    load_blind_sets,
    measure,
    regressions,
)
from candor.settings import Settings
from nlu.model import NluModel
from nlu.project import RasaProject


def figures(accuracy: float, macro_f1: float, clarifying: float) -> dict[str, float]:
    return {"accuracy": accuracy, "macro_f1": macro_f1, "clarifying": clarifying, "total": 10}


def test_any_worse_figure_on_any_set_is_a_regression() -> None:
    current = {"a.jsonl": figures(0.9, 0.8, 0.1), "b.jsonl": figures(0.9, 0.8, 0.1)}
    same = {"a.jsonl": figures(0.9, 0.8, 0.1), "b.jsonl": figures(0.95, 0.85, 0.05)}
    assert regressions(same, current) == []

    worse = {"a.jsonl": figures(0.9, 0.8, 0.12), "b.jsonl": figures(0.89, 0.9, 0.1)}
    found = {(r.blind_set, r.metric) for r in regressions(worse, current)}
    assert found == {("a.jsonl", "clarifying"), ("b.jsonl", "accuracy")}
    described = [r.describe() for r in regressions(worse, current)]
    assert "a.jsonl: clarifying % 12.0% is above the current 10.0%" in described
    assert "b.jsonl: accuracy 0.8900 is below the current 0.9000" in described

    missing = regressions({"a.jsonl": figures(0.9, 0.8, 0.1)}, current)
    assert {r.blind_set for r in missing} == {"b.jsonl"}
    assert all(math.isnan(r.candidate) for r in missing)
    assert "has no accuracy" in missing[0].describe()


def test_compare_marks_the_worse_figures() -> None:
    rows = compare({"a.jsonl": figures(0.8, 0.8, 0.1)}, {"a.jsonl": figures(0.9, 0.8, 0.1)})
    [row] = rows
    assert row.worse
    assert [(m.metric, m.worse) for m in row.metrics] == [
        ("accuracy", True),
        ("macro_f1", False),
        ("clarifying", False),
    ]
    assert row.metrics[0].current == 0.9
    assert row.metrics[0].candidate == 0.8


def test_blind_sets_are_read_with_their_texts_folded(tmp_path: Path) -> None:
    (tmp_path / "one.jsonl").write_text(
        '{"text": "你好！", "intent": "greet"}\n\n{"text": "Thanks", "intent": "thank"}\n',
        encoding="utf-8",
    )
    blind = load_blind_sets(tmp_path)
    assert [s.name for s in blind.sets] == ["one.jsonl"]
    assert blind.holding("你好") == "one.jsonl"
    assert blind.holding(" THANKS!! ") == "one.jsonl"
    assert blind.holding("你好呀") is None
    digest = blind.digest
    (tmp_path / "two.jsonl").write_text('{"text": "在吗", "intent": "greet"}\n', "utf-8")
    assert load_blind_sets(tmp_path).digest != digest


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({}, "no blind evaluation sets"),
        ({"bad.jsonl": "not json\n"}, "bad.jsonl:1: not JSON"),
        ({"empty.jsonl": "\n"}, "no examples"),
        ({"shape.jsonl": '{"text": 1}\n'}, "expected"),
    ],
)
def test_unusable_blind_sets_are_refused_with_the_reason(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(BlindSetError, match=problem):
        load_blind_sets(tmp_path)


def test_the_default_blind_sets_are_the_projects() -> None:
    assert eval_dir(Settings()) == RasaProject.default().root / "tests" / "nlu" / "eval"
    assert eval_dir(Settings(nlu_eval_dir=Path("/elsewhere"))) == Path("/elsewhere")
    assert load_blind_sets(eval_dir(Settings())).sets


def test_measure_scores_each_set(nlu_model: NluModel, gated_dir: Path) -> None:
    measured = measure(nlu_model, load_blind_sets(gated_dir))
    assert set(measured) == {"fragile.jsonl", "steady.jsonl"}
    assert measured["steady.jsonl"]["accuracy"] == 1.0
    assert measured["steady.jsonl"]["clarifying"] == 0.0
    assert measured["fragile.jsonl"]["total"] == 1
