from __future__ import annotations

import socket

import pytest

from nlu.entities import Entity
from nlu.model import IntentScore
from nlu.rasa_client import RasaNluClient, RasaServerError
from tests.nlu.fake_rasa import fake_rasa_server


def test_rasa_answers_become_parse_results() -> None:
    with fake_rasa_server({"在北京吗": "ask_job_info"}) as rasa, RasaNluClient(rasa.url) as client:
        result = client.parse("在北京吗")

    assert rasa.requests == [{"path": "/model/parse", "body": {"text": "在北京吗"}}]
    assert result.intent == IntentScore("ask_job_info", 0.93)
    assert result.entities == (Entity("city", "北京", 1, 3),)
    assert result.to_dict()["intent_ranking"][1] == {"name": "out_of_scope", "confidence": 0.04}


def test_a_rasa_fallback_keeps_the_best_guess() -> None:
    with fake_rasa_server({}) as rasa, RasaNluClient(rasa.url) as client:
        result = client.parse("嗯？")

    assert result.is_fallback
    assert result.best_guess == IntentScore("greet", 0.31)


def test_server_errors_are_reported_clearly() -> None:
    with fake_rasa_server({}) as rasa, RasaNluClient(rasa.url) as client:
        rasa.broken = True
        with pytest.raises(RasaServerError, match="answered HTTP 500"):
            client.parse("hi")


def test_an_unreachable_server_is_reported_clearly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        RasaNluClient(f"http://127.0.0.1:{port}", timeout=2) as client,
        pytest.raises(RasaServerError, match="unreachable"),
    ):
        client.parse("hi")
