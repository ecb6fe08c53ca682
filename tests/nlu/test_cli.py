"""`candor nlu ...` run as a real process, the way other tools call it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from candor.settings import Settings
from tests.nlu.fake_rasa import fake_rasa_server

CANDOR = [sys.executable, "-c", "from candor.cli import main; main()"]
SUMMARY = re.compile(r"^accuracy=(0(\.\d+)?|1(\.0+)?) macro_f1=(0(\.\d+)?|1(\.0+)?)$")


def candor(
    *args: str, settings: Settings, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CANDOR, *args],
        input=stdin,
        env={**os.environ, "CANDOR_NLU_CACHE_DIR": str(settings.nlu_cache_dir), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_parse_writes_one_json_line_per_input_line(nlu_settings: Settings) -> None:
    lines = [
        json.dumps({"text": "我的面试结果出来了吗"}, ensure_ascii=False),
        "not json",
        json.dumps({"text": "编号 AP-2025-000123，验证码 445566"}, ensure_ascii=False),
        json.dumps({"message": "wrong key"}),
    ]
    completed = candor("nlu", "parse", settings=nlu_settings, stdin="\n".join(lines) + "\n")

    outputs = [json.loads(line) for line in completed.stdout.splitlines()]
    assert completed.returncode == 1, completed.stderr
    assert len(outputs) == 4
    first, bad, third, wrong = outputs
    assert set(first) == {"text", "intent", "confidence", "entities", "intent_ranking"}
    assert (first["text"], first["intent"]) == ("我的面试结果出来了吗", "ask_progress")
    assert bad["error"].startswith("line 2:")
    assert wrong["error"].startswith("line 4:")
    assert third["entities"] == [
        {"entity": "application_code", "value": "AP-2025-000123", "start": 3, "end": 17},
        {"entity": "otp_code", "value": "445566", "start": 22, "end": 28},
    ]
    assert "line 2" in completed.stderr
    # jieba stays quiet (no "Building prefix dict" / "Loading model" chatter).
    assert "prefix dict" not in completed.stderr
    assert "Loading model" not in completed.stderr


def test_parse_with_good_input_exits_zero(nlu_settings: Settings) -> None:
    completed = candor("nlu", "parse", settings=nlu_settings, stdin='{"text": "谢谢"}\n\n')
    assert completed.returncode == 0, completed.stderr
    assert [json.loads(line)["intent"] for line in completed.stdout.splitlines()] == ["thank"]


def test_evaluate_prints_per_intent_scores_and_ends_with_the_summary(
    nlu_settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "eval.jsonl"
    file.write_text(
        "\n".join(
            json.dumps({"text": text, "intent": intent}, ensure_ascii=False)
            for text, intent in [
                ("你好呀hr", "greet"),
                ("面试结果啥时候出", "ask_progress"),
                ("给我讲个笑话吧", "out_of_scope"),
                ("我要撤回简历", "complain"),  # wrong on purpose: shows up as a confusion
            ]
        ),
        encoding="utf-8",
    )
    completed = candor("nlu", "evaluate", str(file), settings=nlu_settings)

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert lines[-1] == "accuracy=0.7500 macro_f1=0.6000"
    assert "complain -> withdraw: 1" in completed.stdout
    assert any(line.startswith("greet ") for line in lines)


def test_evaluate_against_a_rasa_server(nlu_settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "eval.jsonl"
    file.write_text(
        '{"text": "hi", "intent": "greet"}\n{"text": "bye", "intent": "goodbye"}\n',
        encoding="utf-8",
    )
    with fake_rasa_server({"hi": "greet", "bye": "goodbye"}) as rasa:
        completed = candor(
            "nlu",
            "evaluate",
            str(file),
            "--engine",
            "rasa",
            settings=nlu_settings,
            CANDOR_RASA_URL=rasa.url,
        )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "accuracy=1.0000 macro_f1=1.0000"
    assert [r["body"]["text"] for r in rasa.requests] == ["hi", "bye"]


def test_evaluate_with_rasa_down_fails_clearly(nlu_settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "eval.jsonl"
    file.write_text('{"text": "hi", "intent": "greet"}\n', encoding="utf-8")
    completed = candor(
        "nlu",
        "evaluate",
        str(file),
        "--engine",
        "rasa",
        settings=nlu_settings,
        CANDOR_RASA_URL="http://127.0.0.1:9",
    )
    assert completed.returncode == 2
    assert "unreachable" in completed.stderr
    assert "CANDOR_RASA_URL" in completed.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["nlu", "evaluate"],
        ["nlu", "evaluate", "--cross-validation", "--engine", "rasa"],
    ],
)
def test_evaluate_needs_one_source(nlu_settings: Settings, args: list[str]) -> None:
    completed = candor(*args, settings=nlu_settings)
    assert completed.returncode == 2
    assert completed.stderr.strip()


def test_bad_evaluation_file_is_refused(nlu_settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "eval.jsonl"
    file.write_text('{"text": "hi"}\n', encoding="utf-8")
    completed = candor("nlu", "evaluate", str(file), settings=nlu_settings)
    assert completed.returncode == 2
    assert "eval.jsonl:1" in completed.stderr


def test_cross_validation_on_the_training_data(nlu_settings: Settings) -> None:
    completed = candor(
        "nlu", "evaluate", "--cross-validation", "--folds", "2", settings=nlu_settings
    )
    assert completed.returncode == 0, completed.stderr
    assert SUMMARY.match(completed.stdout.splitlines()[-1])
    accuracy = float(completed.stdout.splitlines()[-1].split()[0].split("=")[1])
    assert accuracy > 0.6


def test_train_reuses_the_cached_model(nlu_settings: Settings) -> None:
    completed = candor("nlu", "train", settings=nlu_settings)
    assert completed.returncode == 0, completed.stderr
    assert re.match(r"model [0-9a-f]{12}: 21 intents, \d+ features", completed.stdout)
    assert "nlu.loaded" in completed.stderr
