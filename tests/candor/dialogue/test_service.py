"""The hand-off as the dialogue service opens it."""

from __future__ import annotations

from candor.clock import utcnow
from candor.db.aftercommit import drain
from candor.dialogue import service
from candor.metrics import metrics
from candor.models import Conversation
from tests.candor.dialogue.test_hr import _conversations
from tests.outreach_world import World


def _handoffs() -> float:
    sample = metrics().registry.get_sample_value("candor_handoffs_total", {"reason": "asked"})
    return sample or 0.0


async def test_a_handoff_is_counted_once_committed_never_when_rolled_back(world: World) -> None:
    """A turn whose commit fails is retried: counting before the commit would count its
    hand-off twice."""
    await world.applicant(1)
    [conversation_id] = await _conversations(world, 1, 1)
    before = _handoffs()

    async with world.runtime.sessionmaker() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        await service.open_handoff(session, conversation, reason="asked", now=utcnow())
        await session.rollback()
    await drain()
    assert _handoffs() == before

    async with world.runtime.transaction() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        await service.open_handoff(session, conversation, reason="asked", now=utcnow())
    await drain()
    assert _handoffs() == before + 1
