"""Helpers of the NLU review tests (also used by the console's): conversations with
misunderstood messages, verdicts, and small blind sets whose outcome is known.

The blind sets are built from what the project's own model reads: `steady.jsonl` holds, per
intent, the training example it reads most surely (no sensible retraining loses them);
`fragile.jsonl` holds one greeting that a few wrong verdicts on look-alikes turn into
another intent (a regression the gate must refuse).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from candor.auth.principals import HRPrincipal
from candor.clock import utcnow
from candor.models import ChatIdentity, Conversation, MisreadMessage
from candor.models.enums import Channel, Role
from candor.nlu_review import service
from candor.nlu_review.evaluation import load_blind_sets
from nlu.model import NluModel
from nlu.project import RasaProject
from tests.outreach_world import World

STEADY_INTENTS = ("greet", "thank", "ask_progress", "complain", "goodbye", "withdraw")
FRAGILE_TEXT = "哈喽哈喽在不在"
# Approved as another intent, these three turn FRAGILE_TEXT into it.
FRAGILE_LOOKALIKES = tuple(FRAGILE_TEXT + suffix for suffix in ("呀", "啊", "哈"))
WRONG_INTENT = "withdraw"
# The project's model is unsure what this means; once taught, it reads ask_progress.
UNSURE_TEXT = "我那个offer的事情你们能不能快点给个准信"
UNSURE_MEANT = "ask_progress"

ADMIN = HRPrincipal(user_id=10_000, role=Role.ADMIN, team_ids=frozenset())


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )


def steady_rows(model: NluModel) -> list[dict[str, str]]:
    data = RasaProject.default().training_data()
    rows = []
    for intent in STEADY_INTENTS:
        read = [
            (model.parse(e.text), e.text)
            for e in data.examples
            if e.intent == intent and len(e.text) >= 2
        ]
        surest = max(
            (r for r in read if r[0].intent.name == intent),
            key=lambda r: r[0].intent.confidence,
        )
        rows.append({"text": surest[1], "intent": intent})
    return rows


@pytest.fixture(scope="session")
def steady_dir(tmp_path_factory: pytest.TempPathFactory, nlu_model: NluModel) -> Path:
    directory = tmp_path_factory.mktemp("blind-steady")
    _write(directory / "steady.jsonl", steady_rows(nlu_model))
    return directory


@pytest.fixture(scope="session")
def gated_dir(tmp_path_factory: pytest.TempPathFactory, nlu_model: NluModel) -> Path:
    directory = tmp_path_factory.mktemp("blind-gated")
    _write(directory / "steady.jsonl", steady_rows(nlu_model))
    guess = nlu_model.parse(FRAGILE_TEXT).best_guess.name
    assert guess != WRONG_INTENT
    _write(directory / "fragile.jsonl", [{"text": FRAGILE_TEXT, "intent": guess}])
    return directory


async def conversation(world: World, n: int, *, team: str = "team-a") -> int:
    """Candidate n (李雷, of `team`) with a bound web-chat account and its conversation."""
    await world.applicant(n, team=team, bind=[Channel.WEB])
    async with world.runtime.transaction() as session:
        identity = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.external_user_id == f"web-user-{n}")
        )
        assert identity is not None
        found = await session.scalar(
            select(Conversation).where(Conversation.chat_identity_id == identity.id)
        )
        if found is None:
            found = Conversation(
                chat_identity_id=identity.id,
                channel=Channel.WEB,
                candidate_id=identity.candidate_id,
            )
            session.add(found)
            await session.flush()
        return found.id


async def queue(
    world: World,
    conversation_id: int,
    text: str,
    *,
    reason: str = "fallback",
    intent: str | None = "nlu_fallback",
    ranking: list[dict[str, Any]] | None = None,
) -> int:
    """Queue `text` as the engine does; returns the item's id."""
    async with world.runtime.transaction() as session:
        await service.record_misunderstood(
            session,
            conversation_id=conversation_id,
            text=text,
            reason=reason,
            intent=intent,
            confidence=0.5,
            ranking=ranking
            if ranking is not None
            else [
                {"name": "nlu_fallback", "confidence": 0.5},
                {"name": "human_handoff", "confidence": 0.46},
                {"name": "ask_progress", "confidence": 0.3},
            ],
            now=utcnow(),
        )
    async with world.runtime.sessionmaker() as session:
        item_id = await session.scalar(
            select(MisreadMessage.id)
            .where(MisreadMessage.conversation_id == conversation_id)
            .order_by(MisreadMessage.id.desc())
        )
        assert item_id is not None
        return int(item_id)


async def decide(
    world: World,
    item_id: int,
    verdict: service.Verdict,
    *,
    intent: str | None = None,
    blind_dir: Path,
    principal: HRPrincipal = ADMIN,
) -> MisreadMessage:
    async with world.runtime.transaction() as session:
        item = await service.visible_item(session, principal, item_id)
        assert item is not None
        return await service.review(
            session,
            item,
            verdict=verdict,
            intent=intent,
            note="",
            blind=load_blind_sets(blind_dir),
            actor=principal.actor,
            now=utcnow(),
        )
