"""Which action comes next: the rules and stories of the Rasa files, matched against the end
of the conversation (what Rasa's RulePolicy and MemoizationPolicy do for these files).

A flow's prefix that ends right before one of its actions predicts that action when the
conversation's history ends with the same intents and actions; the longest match wins, a
rule before a story on a tie, the earlier one before the later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from candor.dialogue.project import Flow

Token = tuple[str, str]  # ("intent", name) or ("action", name)


@dataclass(frozen=True, slots=True)
class Prediction:
    action: str
    flow: str
    matched: int


class FlowPolicy:
    def __init__(self, flows: Sequence[Flow]) -> None:
        # (prefix, action, flow name, is rule) for every action of every flow
        self._candidates: list[tuple[tuple[Token, ...], str, str, bool]] = []
        for flow in flows:
            tokens: list[Token] = [
                (step.kind, step.name)
                for step in flow.steps
                if step.kind in ("intent", "action") and step.name is not None
            ]
            for index, (kind, name) in enumerate(tokens):
                prefix = tuple(tokens[:index])
                if kind == "action" and any(k == "intent" for k, _ in prefix):
                    self._candidates.append((prefix, name, flow.name, flow.is_rule))
                elif kind == "action" and prefix:
                    # A flow continuing after an action alone (the rule after a form ends).
                    self._candidates.append((prefix, name, flow.name, flow.is_rule))

    def predict(self, history: Sequence[Token]) -> Prediction | None:
        best: tuple[int, int, int] | None = None
        found: Prediction | None = None
        for order, (prefix, action, flow, is_rule) in enumerate(self._candidates):
            size = len(prefix)
            if size > len(history) or tuple(history[len(history) - size :]) != prefix:
                continue
            rank = (size, 1 if is_rule else 0, -order)
            if best is None or rank > best:
                best, found = rank, Prediction(action, flow, size)
        return found
