"""The chat's model swapped without a restart: every process reads the active-model pointer
from the database (through a short Redis copy) and loads the accepted model itself."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import select

from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.clock import utcnow
from candor.models import ActiveNluModel, NluModelVersion
from candor.models.nlu_review import NluModelState
from candor.nlu_review import active, training
from candor.nlu_review.service import Verdict
from candor.runtime import Runtime
from nlu.model import NluModel
from tests.candor.nlu_review.test_training import accept, train, with_blind_sets
from tests.candor.nlu_review.world import ADMIN, UNSURE_MEANT, UNSURE_TEXT, decide, queue
from tests.dialogue_world import bound_chat
from tests.outreach_world import World

# A little over the check interval: the next turn reads the pointer again.
NEXT_CHECK = active.CHECK_EVERY_SECONDS + 0.2


def last_intent(events: list[dict[str, object]]) -> str:
    user = [e for e in events if e.get("event") == "user"][-1]
    parse = user["parse_data"]
    assert isinstance(parse, dict)
    return str(parse["intent"]["name"])


async def test_every_process_swaps_to_the_accepted_model_and_back(
    world: World,
    engine: EmbeddedEngine,
    gateway: ConversationGateway,
    nlu_model: NluModel,
    steady_dir: Path,
) -> None:
    settings = with_blind_sets(world, steady_dir)
    chat = await bound_chat(world, gateway, 1)
    await chat.say(UNSURE_TEXT)
    assert last_intent(await chat.events()) == "nlu_fallback"
    assert await engine.model() is nlu_model

    item = await queue(world, await chat.conversation_id(), UNSURE_TEXT)
    await decide(world, item, Verdict.APPROVE, intent=UNSURE_MEANT, blind_dir=steady_dir)
    candidate = await train(world, settings)
    await accept(world, settings, candidate.id)

    await asyncio.sleep(NEXT_CHECK)
    await chat.say(UNSURE_TEXT)
    assert last_intent(await chat.events()) == UNSURE_MEANT
    swapped = await engine.model()
    assert swapped is not nlu_model
    assert swapped.fingerprint == candidate.fingerprint

    # Another process (its own engine and connections), on a machine that never saw the
    # model: it unpacks it from the database.
    shutil.rmtree(active.model_dir(world.runtime.settings, candidate.fingerprint))
    other = Runtime.create(world.runtime.settings)
    try:
        elsewhere = await EmbeddedEngine(other, model=nlu_model).model()
        assert elsewhere.fingerprint == candidate.fingerprint
        assert elsewhere.parse(UNSURE_TEXT).intent.name == UNSURE_MEANT
        assert (active.model_dir(world.runtime.settings, candidate.fingerprint)).is_dir()
    finally:
        await other.aclose()

    async with world.runtime.transaction() as session:
        await training.revert_to_project_model(
            session, world.runtime.redis, actor=ADMIN.actor, now=utcnow()
        )
    await asyncio.sleep(NEXT_CHECK)
    assert await engine.model() is nlu_model


async def test_a_model_for_other_project_files_or_lost_is_not_used(
    world: World, engine: EmbeddedEngine, nlu_model: NluModel
) -> None:
    async with world.runtime.transaction() as session:
        stale = NluModelVersion(
            state=NluModelState.ACTIVE,
            fingerprint="f" * 64,
            base_fingerprint="0" * 64,  # trained before a deploy changed nlu.yml
            eval_digest="",
            examples=1,
            training_seconds=1.0,
            trained_by="test",
        )
        session.add(stale)
        await session.flush()
        session.add(ActiveNluModel(id=1, model_id=stale.id, changed_by="test"))
    assert await engine.model() is nlu_model
    async with world.runtime.sessionmaker() as session:
        pointer = await active.read_pointer(session)
    assert pointer.model_id == stale.id
    assert not pointer.usable_with(nlu_model.fingerprint)

    # Trained on these files, but neither cached here nor stored: the project's model.
    async with world.runtime.transaction() as session:
        lost = await session.get_one(NluModelVersion, stale.id)
        lost.base_fingerprint = nlu_model.fingerprint
    await world.runtime.redis.delete(active.POINTER_KEY)
    await asyncio.sleep(NEXT_CHECK)
    assert await engine.model() is nlu_model
    async with world.runtime.sessionmaker() as session:
        assert (await session.scalar(select(ActiveNluModel.model_id))) == stale.id
