from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candor.nlu_review.evaluation import load_blind_sets
from candor.nlu_review.export import (
    UntrainableTextError,
    approved_examples,
    render_yaml,
    training_text,
)
from candor.nlu_review.service import Verdict
from nlu.project import RasaProject
from nlu.training_data import read_nlu_yaml
from tests.candor.nlu_review.world import conversation, decide, queue
from tests.candor.test_cli import candor
from tests.outreach_world import World

ODD_TEXTS = [
    ("offer: 啥时候发? #急", "ask_progress"),
    ('他说"明天"给结果 [微笑]', "ask_progress"),
    ("- 还有吗 | > 谢谢 {ok}", "thank"),
    ("👋 hi there   again", "greet"),
]


def test_rendered_examples_read_back_as_written() -> None:
    lines = sorted(((training_text(t), i) for t, i in ODD_TEXTS), key=lambda e: e[1])
    data = read_nlu_yaml(render_yaml(lines))
    assert sorted((e.text, e.intent) for e in data.examples) == sorted(lines)
    assert all(not e.entities for e in data.examples)
    assert read_nlu_yaml(render_yaml([])).examples == []


def test_a_training_text_is_one_clean_line() -> None:
    assert training_text("  在吗\n\n  在吗\t? \x07") == "在吗 在吗 ?"
    with pytest.raises(UntrainableTextError, match="no words"):
        training_text("？？ ！")
    with pytest.raises(UntrainableTextError, match="annotation"):
        training_text('我的[编号]{"entity": "application_code"}')


async def test_approved_examples_once_each_latest_verdict_first_never_a_blind_text(
    world: World, steady_dir: Path, tmp_path: Path
) -> None:
    conversation_id = await conversation(world, 1)
    other = await conversation(world, 2)
    first = await queue(world, conversation_id, "offer咋还没消息")
    again = await queue(world, other, "Offer咋还没消息！")  # the same text, later verdict
    blind = await queue(world, conversation_id, "我想问问结果")
    new_intent = await queue(world, conversation_id, "能把简历删了吗")
    await decide(world, first, Verdict.APPROVE, intent="ask_feedback", blind_dir=steady_dir)
    await decide(world, again, Verdict.APPROVE, intent="ask_progress", blind_dir=steady_dir)
    await decide(world, blind, Verdict.APPROVE, intent="ask_progress", blind_dir=steady_dir)
    await decide(world, new_intent, Verdict.NEW_INTENT, blind_dir=steady_dir)
    # The blind sets grew since: that text is now theirs, and is left out.
    (tmp_path / "later.jsonl").write_text(
        json.dumps({"text": "我想问问结果", "intent": "ask_progress"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )

    intents = RasaProject.default().intents()
    async with world.runtime.sessionmaker() as session:
        reviewed = await approved_examples(
            session, blind=load_blind_sets(tmp_path), intents=intents
        )
        without = await approved_examples(
            session,
            blind=load_blind_sets(steady_dir),
            intents=[i for i in intents if i != "ask_progress"],
        )
    assert reviewed.examples == (("Offer咋还没消息！", "ask_progress"),)
    assert reviewed.in_blind_sets == 1
    assert [(e.text, e.intent) for e in reviewed.training_data().examples] == [
        ("Offer咋还没消息！", "ask_progress")
    ]
    assert without.unknown_intent == 2
    assert without.examples == (("offer咋还没消息", "ask_feedback"),)


async def test_export_reviewed_writes_the_approved_examples(
    world: World, steady_dir: Path, tmp_path: Path
) -> None:
    item = await queue(world, await conversation(world, 1), "我电话13812345678 结果呢")
    await decide(world, item, Verdict.APPROVE, intent="ask_progress", blind_dir=steady_dir)
    env = {
        "CANDOR_DATABASE_URL": world.runtime.settings.database_url,
        "CANDOR_REDIS_URL": "memory://",
        "CANDOR_ENV": "development",
        "CANDOR_NLU_EVAL_DIR": str(steady_dir),
    }
    output = tmp_path / "out" / "nlu_reviewed.yml"

    done = candor("nlu", "export-reviewed", "--output", str(output), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 1 reviewed examples to {output}"
    examples = read_nlu_yaml(output.read_text("utf-8")).examples
    assert [(e.text, e.intent) for e in examples] == [("我电话13000000000 结果呢", "ask_progress")]

    no_sets = candor(
        "nlu", "export-reviewed", "--output", str(output),
        env={**env, "CANDOR_NLU_EVAL_DIR": str(tmp_path / "missing")},
    )  # fmt: skip
    assert no_sets.returncode == 2
    assert "no blind evaluation sets" in no_sets.stderr


def test_export_reviewed_needs_a_migrated_database(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    done = candor("nlu", "export-reviewed", "--output", str(tmp_path / "x.yml"), env=embedded_env)
    assert done.returncode == 2
    assert "is it migrated?" in done.stderr
    assert not (tmp_path / "x.yml").exists()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5))
def test_any_trainable_text_survives_the_file(texts: list[str]) -> None:
    lines = []
    for text in texts:
        try:
            lines.append((training_text(text), "greet"))
        except UntrainableTextError:
            continue
    examples = read_nlu_yaml(render_yaml(lines)).examples
    assert [(e.text, e.intent) for e in examples] == lines
