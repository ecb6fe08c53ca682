"""The approved examples as Rasa NLU training data: `data/nlu_reviewed.yml` for
`candor nlu export-reviewed`, and the extra examples a reviewed model is trained on.

What is written is exactly what is trained on: the training data is read back from the
rendered YAML with the project's own reader.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.models import MisreadMessage
from candor.models.nlu_review import ReviewState
from candor.nlu_review.evaluation import BlindSets
from nlu.evaluation import overlap_key
from nlu.project import REPOSITORY_ROOT
from nlu.training_data import TrainingData, parse_annotated_text, read_nlu_yaml

DEFAULT_OUTPUT = REPOSITORY_ROOT / "data" / "nlu_reviewed.yml"
# The most recent approvals trained on; older ones are left out beyond this.
MAX_REVIEWED_EXAMPLES = 5000
_SPACE = re.compile(r"\s+")
_NOT_YAML = frozenset("\ufeff\ufffe\uffff")


class UntrainableTextError(ValueError):
    """The text cannot be a training example as it stands."""


def training_text(text: str) -> str:
    """The text as an example line: one line, single spaces, no control characters. Raises
    UntrainableTextError when nothing would be left to learn from, or when Rasa's format
    would read part of it as an entity annotation (`[text](entity)`)."""
    cleaned = "".join(c for c in text if c.isspace() or _printable(c))
    line = _SPACE.sub(" ", cleaned).strip()
    if not overlap_key(line):
        raise UntrainableTextError("nothing to learn from: the text has no words")
    plain, spans = parse_annotated_text(line)
    if spans or plain != line:
        raise UntrainableTextError(
            "the text contains [..](..) or [..]{..}, which Rasa's format reads as an entity "
            "annotation; dismiss it"
        )
    return line


def _printable(character: str) -> bool:
    """What a YAML file may hold: no control characters, surrogates or non-characters."""
    return unicodedata.category(character) not in ("Cc", "Cs") and character not in _NOT_YAML


@dataclass(frozen=True, slots=True)
class ReviewedExamples:
    examples: tuple[tuple[str, str], ...]  # (text, intent), grouped by intent in domain order
    in_blind_sets: int  # approved, but a blind set holds the text now: left out
    unknown_intent: int  # approved for an intent domain.yml no longer has: left out

    def yaml(self) -> str:
        return render_yaml(self.examples)

    def training_data(self) -> TrainingData:
        return read_nlu_yaml(self.yaml(), origin="reviewed examples")


def render_yaml(examples: Sequence[tuple[str, str]]) -> str:
    lines = [
        "# Candidate messages the bot misunderstood, labelled in the console's NLU review.",
        "# Written by `candor nlu export-reviewed`; review them in the console, not here.",
        'version: "3.1"',
        "nlu:" if examples else "nlu: []",
    ]
    current: str | None = None
    for text, intent in examples:
        if intent != current:
            lines += [f"- intent: {intent}", "  examples: |"]
            current = intent
        lines.append(f"    - {text}")
    return "\n".join(lines) + "\n"


async def approved_examples(
    session: AsyncSession, *, blind: BlindSets, intents: Sequence[str]
) -> ReviewedExamples:
    """The approved examples to train on: one per text (the latest verdict wins), none a
    blind set holds, none for an intent domain.yml lacks."""
    rows = (
        await session.execute(
            select(MisreadMessage.text, MisreadMessage.intent)
            .where(MisreadMessage.state == ReviewState.APPROVED)
            .order_by(MisreadMessage.decided_at.desc(), MisreadMessage.id.desc())
            .limit(MAX_REVIEWED_EXAMPLES)
        )
    ).all()
    known = set(intents)
    chosen: dict[str, tuple[str, str]] = {}
    in_blind = unknown = 0
    for text, intent in rows:
        if intent is None or intent not in known:
            unknown += 1
            continue
        if blind.holding(text) is not None:
            in_blind += 1
            continue
        try:
            line = training_text(text)
        except UntrainableTextError:
            continue  # refused at approval; only possible for rows written otherwise
        chosen.setdefault(overlap_key(line), (line, intent))
    order = {intent: i for i, intent in enumerate(intents)}
    examples = sorted(chosen.values(), key=lambda e: (order[e[1]], e[0]))
    return ReviewedExamples(tuple(examples), in_blind, unknown)
