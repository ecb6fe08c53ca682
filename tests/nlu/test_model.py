from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import structlog

from candor.settings import Settings
from nlu.entities import Entity
from nlu.model import NluModel, load_or_train, open_tokenizer, train, train_project
from nlu.project import FALLBACK_INTENT, FallbackThresholds, RasaProject
from nlu.training_data import TrainingDataError


def test_parses_wechat_style_messages(model: NluModel) -> None:
    cases = {
        "请问我的面试结果出了没呀😭": "ask_progress",
        "为啥没通过，能给点反馈吗": "ask_feedback",
        "下周的面试能改到周五吗": "reschedule",
        "麻烦帮我转个人工": "human_handoff",
        "退订": "opt_out",
        "Are you a bot?": "bot_challenge",
    }
    assert {text: model.parse(text).intent.name for text in cases} == cases


def test_entities_have_offsets_into_the_original_text_and_canonical_values(
    model: NluModel,
) -> None:
    text = "魔都那个岗位的工资多少？我的编号是ap-2025-000321，手机13812345678"
    result = model.parse(text)

    assert list(result.entities) == [
        Entity("city", "上海", 0, 2),
        Entity("job_topic", "salary", 7, 9),
        Entity("application_code", "ap-2025-000321", 17, 31),
        Entity("phone", "13812345678", 34, 45),
    ]
    assert all(text[e.start : e.end] for e in result.entities)


def test_codes_phones_and_otps_do_not_overlap(model: NluModel) -> None:
    result = model.parse("AP-2025-123456 13912345678 验证码 654321")
    assert [(e.entity, e.value) for e in result.entities] == [
        ("application_code", "AP-2025-123456"),
        ("phone", "13912345678"),
        ("otp_code", "654321"),
    ]


def test_result_dict_is_the_cli_contract(model: NluModel) -> None:
    result = model.parse("给5分").to_dict()

    assert set(result) == {"text", "intent", "confidence", "entities", "intent_ranking"}
    assert result["intent"] == "rate_experience"
    assert result["entities"] == [{"entity": "rating", "value": "5", "start": 1, "end": 2}]
    ranking = result["intent_ranking"]
    assert len(ranking) == 10
    assert ranking[0] == {"name": "rate_experience", "confidence": result["confidence"]}
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert 0.5 < result["confidence"] <= 1.0


def test_unsure_results_fall_back_but_keep_the_ranking(tiny_project: RasaProject) -> None:
    tokenizer = open_tokenizer(tiny_project, tiny_project.root / "cache")
    data = tiny_project.training_data()
    # Uncalibrated: on a handful of examples a calibrated model is certain of everything.
    cautious = train(
        data, tokenizer=tokenizer, thresholds=FallbackThresholds(0.999, 0.0), calibrate=False
    )
    relaxed = train(
        data, tokenizer=tokenizer, thresholds=FallbackThresholds(0.0, 0.0), calibrate=False
    )

    unsure = cautious.parse("你好")
    sure = relaxed.parse("你好")

    assert unsure.is_fallback
    assert unsure.intent.name == FALLBACK_INTENT
    assert unsure.intent.confidence == 0.999
    assert unsure.intent_ranking[0].name == FALLBACK_INTENT
    assert unsure.best_guess == sure.intent
    assert sure.intent.name == "greet"
    assert not sure.is_fallback


def test_ambiguity_between_the_top_two_falls_back(tiny_project: RasaProject) -> None:
    tokenizer = open_tokenizer(tiny_project, tiny_project.root / "cache")
    model = train(
        tiny_project.training_data(), tokenizer=tokenizer, thresholds=FallbackThresholds(0.0, 1.0)
    )
    assert model.parse("你好").is_fallback


def test_model_is_cached_by_fingerprint(tiny_project: RasaProject, tiny_settings: Settings) -> None:
    with structlog.testing.capture_logs() as first_logs:
        first = load_or_train(tiny_settings, project=tiny_project)
    with structlog.testing.capture_logs() as second_logs:
        second = load_or_train(tiny_settings, project=tiny_project)

    assert [e["event"] for e in first_logs] == ["nlu.trained"]
    assert [e["event"] for e in second_logs] == ["nlu.loaded"]
    assert second.fingerprint == first.fingerprint
    assert second.vocabulary == first.vocabulary
    for text in ["你好", "工资多少", "在帝都吗", "AP-2025-000001 进度", "随便说点什么"]:
        assert second.parse(text) == first.parse(text)


def test_changed_training_data_retrains(tiny_project: RasaProject, tiny_settings: Settings) -> None:
    first = load_or_train(tiny_settings, project=tiny_project)
    nlu = tiny_project.nlu_paths[0]
    nlu.write_text(
        nlu.read_text(encoding="utf-8").replace("      - hello\n", "      - hello\n      - 早\n"),
        encoding="utf-8",
    )

    with structlog.testing.capture_logs() as logs:
        second = load_or_train(tiny_settings, project=tiny_project)

    assert [e["event"] for e in logs] == ["nlu.trained"]
    assert second.fingerprint != first.fingerprint
    models = sorted(p.name for p in (tiny_settings.nlu_cache_dir / "models").iterdir())
    assert models == sorted([first.fingerprint[:24], second.fingerprint[:24]])


def test_unreadable_cache_is_retrained_not_fatal(
    tiny_project: RasaProject, tiny_settings: Settings
) -> None:
    first = load_or_train(tiny_settings, project=tiny_project)
    model_dir = tiny_settings.nlu_cache_dir / "models" / first.fingerprint[:24]
    (model_dir / "meta.json").write_text("{not json", encoding="utf-8")

    with structlog.testing.capture_logs() as logs:
        again = load_or_train(tiny_settings, project=tiny_project)

    assert [e["event"] for e in logs] == ["nlu.cache_unreadable", "nlu.trained"]
    assert again.parse("你好").intent.name == "greet"
    assert load_or_train(tiny_settings, project=tiny_project).fingerprint == first.fingerprint


def test_intents_must_match_the_domain(tiny_project: RasaProject, tmp_path: Path) -> None:
    domain = tiny_project.domain_path
    domain.write_text(
        domain.read_text(encoding="utf-8").replace("  - greet\n", "  - greet\n  - withdraw\n"),
        encoding="utf-8",
    )
    tokenizer = open_tokenizer(tiny_project, tmp_path)

    with pytest.raises(TrainingDataError, match=r"only in domain \['withdraw'\]"):
        train_project(tiny_project, tokenizer=tokenizer)


def test_parse_is_safe_from_many_threads(model: NluModel) -> None:
    texts = [
        "面试结果出来了吗",
        "工资多少 在北京吗",
        "验证码 123456",
        "can I reschedule",
        "给4星",
        "不用了",
    ] * 50
    expected = [model.parse(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(model.parse, texts)) == expected


@pytest.mark.parametrize("text", ["", "   ", "😂😂", "[微笑]", "a" * 2000])
def test_odd_messages_still_get_a_complete_result(model: NluModel, text: str) -> None:
    result = model.parse(text)
    assert result.text == text
    assert len(result.intent_ranking) == 10
    assert sum(s.confidence for s in result.intent_ranking if s.name != FALLBACK_INTENT) <= 1.0
