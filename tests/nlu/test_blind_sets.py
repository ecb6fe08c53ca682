"""The blind evaluation sets (tests/nlu/eval): complete, never trained on, and a floor under
the embedded engine's figures on each, so a regression in the data or the model fails here.

The floors sit below the measured figures (docs/nlu.md), not at them: they catch a real
drop without turning the sets into something to tune against.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from nlu.evaluation import overlap_key, predict, read_labelled_jsonl, score
from nlu.model import NluModel
from nlu.project import REPOSITORY_ROOT, RasaProject

EVAL_DIR = REPOSITORY_ROOT / "tests" / "nlu" / "eval"
BLIND_SETS = sorted(EVAL_DIR.glob("*.jsonl"))
INTENT_GUIDE = REPOSITORY_ROOT / "docs" / "intents.md"


def test_there_are_at_least_four_sets() -> None:
    assert len(BLIND_SETS) >= 4


@pytest.mark.parametrize("path", BLIND_SETS, ids=lambda p: p.stem)
def test_each_set_covers_every_intent_at_least_25_times(path: Path) -> None:
    examples = read_labelled_jsonl(path)
    counts = Counter(e.intent for e in examples)
    assert set(counts) == set(RasaProject.default().intents())
    assert min(counts.values()) >= 25
    assert len({overlap_key(e.text) for e in examples}) > 0.98 * len(examples)


def test_no_blind_text_is_trained_on() -> None:
    project = RasaProject.default()
    trained = {overlap_key(e.text) for e in project.training_data().examples}
    leaked = [
        (path.name, e.text)
        for path in BLIND_SETS
        for e in read_labelled_jsonl(path)
        if overlap_key(e.text) in trained
    ]
    assert leaked == []


def test_overlap_ignores_case_width_spacing_and_punctuation_but_not_emoji() -> None:
    assert overlap_key("ＨＲ 你好！！") == overlap_key("hr你好")
    assert overlap_key("Offer呢？") == overlap_key("offer呢")
    assert overlap_key("👋") != overlap_key("👌")


def test_the_intent_guide_defines_exactly_the_domain_intents() -> None:
    defined = re.findall(r"^\| `(\w+)` \|", INTENT_GUIDE.read_text("utf-8"), re.MULTILINE)
    assert sorted(defined) == sorted(RasaProject.default().intents())


@pytest.mark.parametrize("path", BLIND_SETS, ids=lambda p: p.stem)
def test_embedded_engine_figures_on_each_blind_set(path: Path, model: NluModel) -> None:
    report = score(predict(model, read_labelled_jsonl(path)))
    assert report.accuracy >= 0.91
    assert report.macro_f1 >= 0.91
    assert report.fallbacks / report.total <= 0.08  # clarifying questions
    assert report.confident_wrong / report.total <= 0.045
    assert report.calibration_error <= 0.05
