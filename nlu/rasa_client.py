"""The real Rasa server's NLU behind the embedded engine's interface (`parse -> ParseResult`).

Calls `POST {CANDOR_RASA_URL}/model/parse` and converts Rasa's answer, so evaluation and
benchmarks treat both engines the same way.
"""

from __future__ import annotations

from typing import Any

import httpx

from nlu.entities import Entity
from nlu.model import IntentScore, ParseResult


class RasaServerError(RuntimeError):
    """The Rasa server is unreachable or answered something that is not a parse result."""


class RasaNluClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RasaNluClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def parse(self, text: str) -> ParseResult:
        try:
            response = self._client.post("/model/parse", json={"text": text})
        except httpx.HTTPError as exc:
            raise RasaServerError(f"Rasa server at {self.base_url} unreachable: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise RasaServerError(
                f"Rasa server at {self.base_url} answered HTTP {response.status_code}"
            )
        try:
            return parse_result_from_rasa(text, response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise RasaServerError(f"unexpected answer from {self.base_url}: {exc}") from exc


def parse_result_from_rasa(text: str, body: dict[str, Any]) -> ParseResult:
    intent = IntentScore(str(body["intent"]["name"]), float(body["intent"]["confidence"]))
    ranking = tuple(
        IntentScore(str(item["name"]), float(item["confidence"]))
        for item in body.get("intent_ranking") or [body["intent"]]
    )
    entities = tuple(
        Entity(str(e["entity"]), str(e["value"]), int(e["start"]), int(e["end"]))
        for e in body.get("entities") or []
    )
    return ParseResult(text, intent, entities, ranking)
