"""Training candidates on the reviewed examples, and the gate before one is accepted.

Each training is real (a few seconds): the project's data plus the approved examples,
measured with the project's model on small blind sets whose outcome is known (world.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from candor.audit.service import Action
from candor.clock import utcnow
from candor.models import ActiveNluModel, AuditEntry, NluModelVersion
from candor.models.nlu_review import NluModelState
from candor.nlu_review import active, training
from candor.nlu_review.service import Verdict, reopen, visible_item
from candor.settings import Settings
from tests.candor.nlu_review.world import (
    ADMIN,
    FRAGILE_LOOKALIKES,
    UNSURE_MEANT,
    UNSURE_TEXT,
    WRONG_INTENT,
    conversation,
    decide,
    queue,
)
from tests.outreach_world import World


def with_blind_sets(world: World, directory: Path) -> Settings:
    return world.runtime.settings.model_copy(update={"nlu_eval_dir": directory})


async def train(world: World, settings: Settings) -> NluModelVersion:
    """As the console does: on a session without `begin()`, committed at the end."""
    async with world.runtime.sessionmaker() as session:
        candidate = await training.train_candidate(
            session, world.runtime.redis, settings, actor=ADMIN.actor, now=utcnow()
        )
        await session.commit()
        return candidate


async def accept(world: World, settings: Settings, model_id: int) -> NluModelVersion:
    async with world.runtime.transaction() as session:
        return await training.accept(
            session, world.runtime.redis, settings, model_id, actor=ADMIN.actor, now=utcnow()
        )


async def model(world: World, model_id: int) -> NluModelVersion:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(NluModelVersion, model_id)


async def test_nothing_to_train_on_and_a_second_trainer_are_refused(
    world: World, steady_dir: Path
) -> None:
    settings = with_blind_sets(world, steady_dir)
    with pytest.raises(training.NothingToTrainError, match="no approved examples") as refused:
        await train(world, settings)
    assert refused.value.http_status == 422

    held = world.runtime.redis.lock(training.TRAINING_LOCK_KEY, timeout=30)
    assert await held.acquire()
    try:
        with pytest.raises(training.TrainingBusyError) as busy:
            await train(world, settings)
        assert busy.value.http_status == 409
    finally:
        await held.release()


async def test_a_regressing_candidate_is_refused_and_a_sound_one_accepted(
    world: World, gated_dir: Path, tmp_path: Path
) -> None:
    blind_dir = tmp_path / "blind"
    shutil.copytree(gated_dir, blind_dir)
    settings = with_blind_sets(world, blind_dir)
    conversation_id = await conversation(world, 1)
    unsure = await queue(world, conversation_id, UNSURE_TEXT)
    await decide(world, unsure, Verdict.APPROVE, intent=UNSURE_MEANT, blind_dir=blind_dir)
    wrong = [await queue(world, conversation_id, text) for text in FRAGILE_LOOKALIKES]
    for item_id in wrong:
        await decide(world, item_id, Verdict.APPROVE, intent=WRONG_INTENT, blind_dir=blind_dir)

    # Three wrong verdicts turn the fragile greeting into a withdrawal: refused.
    bad = await train(world, settings)
    assert bad.state is NluModelState.CANDIDATE
    assert bad.examples == 4
    assert bad.baseline_model_id is None
    assert bad.baseline_figures["fragile.jsonl"]["accuracy"] == 1.0
    assert bad.figures["fragile.jsonl"]["accuracy"] == 0.0
    assert bad.figures["steady.jsonl"] == bad.baseline_figures["steady.jsonl"]
    with pytest.raises(training.GateRefusedError) as refused:
        await accept(world, settings, bad.id)
    assert refused.value.http_status == 409
    assert "fragile.jsonl: accuracy 0.0000 is below the current 1.0000" in str(refused.value)
    async with world.runtime.sessionmaker() as session:
        assert (
            (await training.overview(session, settings))
            .blockers[bad.id]
            .startswith("it does worse than the current model")
        )
        assert (await active.read_pointer(session)).model_id is None
    assert (await model(world, bad.id)).state is NluModelState.CANDIDATE

    # The wrong verdicts taken back, the next candidate supersedes it and passes.
    async with world.runtime.transaction() as session:
        for item_id in wrong:
            item = await visible_item(session, ADMIN, item_id)
            assert item is not None
            await reopen(session, item, actor=ADMIN.actor, now=utcnow())
    good = await train(world, settings)
    assert good.examples == 1
    assert good.fingerprint != bad.fingerprint
    assert (await model(world, bad.id)).state is NluModelState.DISCARDED
    assert good.figures == good.baseline_figures

    # Blind sets changed since it was measured: train again first.
    (blind_dir / "extra.jsonl").write_text('{"text": "拜拜", "intent": "goodbye"}\n', "utf-8")
    with pytest.raises(training.StaleCandidateError, match="blind evaluation sets changed"):
        await accept(world, settings, good.id)
    (blind_dir / "extra.jsonl").unlink()

    accepted = await accept(world, settings, good.id)
    assert accepted.state is NluModelState.ACTIVE
    with pytest.raises(training.ModelStateError, match="only a candidate"):
        await accept(world, settings, good.id)
    with pytest.raises(training.ModelNotFoundError) as missing:
        await accept(world, settings, 999_999)
    assert missing.value.http_status == 404
    async with world.runtime.sessionmaker() as session:
        pointer = await session.get_one(ActiveNluModel, 1)
        overview = await training.overview(session, settings)
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "nlu_model")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert pointer.model_id == good.id
    assert overview.active is not None
    assert overview.active.id == good.id
    assert overview.active_in_use
    assert overview.candidates == []
    assert [m.id for m in overview.history] == [bad.id]
    assert list(actions) == [
        Action.NLU_MODEL_TRAINED,
        Action.NLU_MODEL_TRAINED,
        Action.NLU_MODEL_ACCEPTED,
    ]

    async with world.runtime.transaction() as session:
        await training.revert_to_project_model(
            session, world.runtime.redis, actor=ADMIN.actor, now=utcnow()
        )
    retired = await model(world, good.id)
    assert retired.state is NluModelState.RETIRED
    async with world.runtime.transaction() as session:
        with pytest.raises(training.ModelStateError, match="in use already"):
            await training.revert_to_project_model(
                session, world.runtime.redis, actor=ADMIN.actor, now=utcnow()
            )
        with pytest.raises(training.ModelStateError, match="only a candidate"):
            await training.discard(session, good.id, actor=ADMIN.actor, now=utcnow())
