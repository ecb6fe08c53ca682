"""Reading a message in the light of what the candidate was last told.

A message alone is often ambiguous; right after the bot spoke it rarely is. "4" after the
rating question is a rating, "好" after "do you really want to withdraw?" is a yes, and "为什么"
right after a rejection asks for feedback. The rules are small and only ever choose among
the readings the NLU already ranked near the top: context settles a doubt, it never
overrides a clear reading of something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from candor.models.enums import Decision
from nlu.model import IntentScore, ParseResult
from nlu.project import FALLBACK_INTENT

PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][\w-]*)(?P<entities>\{.*\})?$", re.DOTALL)
# Results after which a short unsure question ("为什么", "怎么回事") is about the feedback.
FEEDBACK_AFTER = frozenset({Decision.REJECT, Decision.HOLD})
# An entity that only makes sense as the answer to a question offering this intent.
ANSWER_ENTITIES = {"rating": "rate_experience", "opt_out_scope": "opt_out"}


@dataclass(frozen=True, slots=True)
class BotContext:
    offered: frozenset[str]  # the intents behind the buttons of the bot's last turn
    result: Decision | None = None  # a result that reached the candidate since they last wrote


def offered_intents(events: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The intents behind the buttons of the bot's last turn (events oldest first)."""
    offered: set[str] = set()
    for event in reversed(list(events)):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            for button in (event.get("data") or {}).get("buttons") or []:
                match = PAYLOAD.match(str(button.get("payload") or ""))
                if match:
                    offered.add(match.group("intent"))
    return frozenset(offered)


def needs_result(parse: ParseResult) -> bool:
    """Whether the latest result could change this reading (so it is worth a query)."""
    return parse.is_fallback and "ask_feedback" in _top_two(parse)


def settle(parse: ParseResult, context: BotContext) -> ParseResult:
    """The reading in context: unchanged unless one of the rules applies."""
    names = {entity.entity for entity in parse.entities}
    for entity, intent in ANSWER_ENTITIES.items():
        if entity in names and intent in context.offered and parse.intent.name != intent:
            return _chosen(parse, intent)
    if not parse.is_fallback:
        return parse
    expected = [name for name in _top_two(parse) if name in context.offered]
    if len(expected) == 1:
        return _chosen(parse, expected[0])
    if context.result in FEEDBACK_AFTER and "ask_feedback" in _top_two(parse):
        return _chosen(parse, "ask_feedback")
    return parse


def _top_two(parse: ParseResult) -> list[str]:
    return [s.name for s in parse.intent_ranking if s.name != FALLBACK_INTENT][:2]


def _chosen(parse: ParseResult, intent: str) -> ParseResult:
    ranking = [s for s in parse.intent_ranking if s.name != FALLBACK_INTENT]
    score = next((s for s in ranking if s.name == intent), IntentScore(intent, 0.0))
    return ParseResult(
        parse.text,
        score,
        parse.entities,
        (score, *(s for s in ranking if s.name != intent)),
    )
