"""The shipped entity patterns on candidates' text, including text written to make them slow."""

from __future__ import annotations

import time

import pytest

from nlu.entities import EntityExtractor
from nlu.project import RasaProject


@pytest.fixture(scope="module")
def shipped_extractor() -> EntityExtractor:
    data = RasaProject.default().training_data()
    return EntityExtractor.from_training_data(
        data.regexes,
        data.lookups,
        data.synonyms,
        entities={r.name for r in data.regexes} | {t.name for t in data.lookups},
    )


# The worst cases for the patterns' classes: long runs of address, digit, separator and
# rating characters that a backtracking pattern would rescan from every position.
ADVERSARIAL_64K = {
    "word-run-then-at": "a" * 65536 + "@",
    "at-then-word-run": "@" + "a" * 65536,
    "digits": "1" * 65536,
    "dot-dash": ".-" * 32768,
    "at-then-labels": "a@" + "a." * 32767,
    "labels-then-at": "a." * 32767 + "@",
    "spaced-digits": "1 " * 32768,
    "dashed-digits": "1-" * 32768,
    "plus-86": "+86 " * 16384,
    "code-prefixes": "AP-2026-" * 8192,
    "rating-then-spaces": "5" + " " * 65535,
    "ratings": "5 " * 32768,
}


@pytest.mark.parametrize("text", ADVERSARIAL_64K.values(), ids=ADVERSARIAL_64K.keys())
def test_extraction_takes_linear_time_on_adversarial_text(
    shipped_extractor: EntityExtractor, text: str
) -> None:
    started = time.perf_counter()
    shipped_extractor.extract(text)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("我的邮箱是zhang.wei@qq.com谢谢", "zhang.wei@qq.com"),
        ("mail: a_b+jobs@mail.example.org.", "a_b+jobs@mail.example.org"),
        ("first.last-1@163.com", "first.last-1@163.com"),
    ],
)
def test_email_addresses_are_still_found_whole(
    shipped_extractor: EntityExtractor, text: str, address: str
) -> None:
    emails = [e.value for e in shipped_extractor.extract(text) if e.entity == "email"]
    assert emails == [address]
