"""The held-out file `bench/data/nlu_heldout.jsonl`: never trained on, and an honest floor."""

from __future__ import annotations

from collections import Counter

from nlu.evaluation import predict, read_labelled_jsonl, score
from nlu.model import NluModel
from nlu.project import REPOSITORY_ROOT, RasaProject
from nlu.tokenizer import normalise

HELDOUT = REPOSITORY_ROOT / "bench" / "data" / "nlu_heldout.jsonl"


def _key(text: str) -> str:
    return "".join(normalise(text).split())


def test_heldout_shares_no_example_with_the_training_data() -> None:
    trained = {_key(e.text) for e in RasaProject.default().training_data().examples}
    heldout = read_labelled_jsonl(HELDOUT)
    assert [e.text for e in heldout if _key(e.text) in trained] == []
    assert len({_key(e.text) for e in heldout}) == len(heldout)


def test_heldout_covers_every_intent_at_least_8_times() -> None:
    counts = Counter(e.intent for e in read_labelled_jsonl(HELDOUT))
    intents = RasaProject.default().intents()
    assert set(counts) == set(intents)
    assert min(counts.values()) >= 8


def test_embedded_engine_reaches_the_accuracy_floor(model: NluModel) -> None:
    report = score(predict(model, read_labelled_jsonl(HELDOUT)))
    assert report.accuracy >= 0.85
    assert report.macro_f1 >= 0.85
