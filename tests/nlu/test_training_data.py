from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlu.training_data import (
    EntitySpan,
    LookupTable,
    RegexPattern,
    TrainingDataError,
    load_training_data,
    parse_annotated_text,
    read_nlu_yaml,
)

# Plain text never contains the annotation brackets; entity surfaces are non-empty.
plain = st.text(alphabet=st.characters(blacklist_characters="[](){}\n\r"), max_size=12)
surface = plain.filter(lambda s: s.strip() == s and s != "")
entity_name = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
value = st.text(alphabet=st.characters(blacklist_characters='[](){}\n\r"\\:'), min_size=1).filter(
    lambda s: s.strip() == s
)


@given(st.lists(st.tuples(plain, surface, entity_name, st.none() | value), max_size=4), plain)
def test_annotations_come_out_as_spans_over_the_plain_text(
    pieces: list[tuple[str, str, str, str | None]], tail: str
) -> None:
    annotated = ""
    expected_text = ""
    expected: list[EntitySpan] = []
    for index, (before, text, entity, explicit) in enumerate(pieces):
        annotated += before
        expected_text += before
        if explicit is None:
            annotated += f"[{text}]({entity})"
        elif index % 2:
            annotated += f"[{text}]" + json.dumps({"entity": entity, "value": explicit})
        else:
            annotated += f"[{text}]({entity}:{explicit})"
        start = len(expected_text)
        expected_text += text
        expected.append(EntitySpan(entity, explicit or text, start, start + len(text)))
    annotated += tail
    expected_text += tail

    text, spans = parse_annotated_text(annotated)

    assert text == expected_text
    assert list(spans) == expected
    assert all(text[s.start : s.end] == p[1] for s, p in zip(spans, pieces, strict=True))


@given(plain)
def test_text_without_annotations_is_unchanged(text: str) -> None:
    assert parse_annotated_text(text) == (text, ())


def test_wechat_emoji_codes_in_brackets_stay_text() -> None:
    assert parse_annotated_text("好的[微笑][抱拳]") == ("好的[微笑][抱拳]", ())


def test_roles_are_kept() -> None:
    _, spans = parse_annotated_text('从[北京]{"entity": "city", "role": "from"}出发')
    assert spans == (EntitySpan("city", "北京", 1, 3, role="from"),)


def test_reads_every_item_kind() -> None:
    data = read_nlu_yaml(
        """
version: "3.1"
nlu:
  - intent: ask_job_info
    examples: |
      - 在[魔都]{"entity": "city", "value": "上海"}吗
      - 工资多少
  - intent: greet
    examples:
      - text: 你好
        metadata: {sentiment: neutral}
  - synonym: salary
    examples: |
      - 工资
      - Pay
  - regex: phone
    examples: |
      - 1[3-9]\\d{9}
  - lookup: city
    examples: |
      - 上海
      - 魔都
"""
    )
    assert [(e.text, e.intent) for e in data.examples] == [
        ("在魔都吗", "ask_job_info"),
        ("工资多少", "ask_job_info"),
        ("你好", "greet"),
    ]
    assert data.intents == ["ask_job_info", "greet"]
    assert data.entities == ["city"]
    # Lower-cased keys; an annotation with a different value is a synonym too.
    assert data.synonyms == {"魔都": "上海", "工资": "salary", "pay": "salary"}
    assert data.regexes == [RegexPattern("phone", r"1[3-9]\d{9}")]
    assert data.lookups == [LookupTable("city", ("上海", "魔都"))]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nlu: {}", "'nlu' must be a list"),
        ("nlu:\n  - intent: greet\n", "missing 'examples'"),
        ("nlu:\n  - intent: greet\n    examples: 'hello'\n", "start with '- '"),
        ("nlu:\n  - examples: |\n      - hi\n", "exactly one of"),
        ("nlu:\n  - regex: r\n    examples: |\n      - ([a-\n", "regex r"),
        ('nlu:\n  - intent: x\n    examples: |\n      - [a]{"value": 1}\n', "no entity name"),
        ("nlu: [\n", "not valid YAML"),
    ],
)
def test_unusable_data_is_refused_with_its_location(source: str, message: str) -> None:
    with pytest.raises(TrainingDataError, match=message) as info:
        read_nlu_yaml(source, origin="nlu.yml")
    assert str(info.value).startswith("nlu.yml")


def test_files_are_merged_in_order(tmp_path: Path) -> None:
    first = tmp_path / "a.yml"
    second = tmp_path / "b.yml"
    first.write_text("nlu:\n  - intent: a\n    examples: |\n      - one\n", encoding="utf-8")
    second.write_text("nlu:\n  - intent: b\n    examples: |\n      - two\n", encoding="utf-8")
    assert load_training_data([first, second]).intents == ["a", "b"]
