"""What HR sees of the dialogue: team-scoped reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from candor.auth.principals import load_principal
from candor.dialogue.hr import open_handoffs
from candor.models import ChatIdentity, Conversation, Handoff
from candor.models.enums import Channel
from tests.factories import application_created
from tests.outreach_world import World

OPENED = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


async def _conversations(world: World, n: int, count: int) -> list[int]:
    """`count` chat accounts of applicant `n`'s candidate, each with its conversation."""
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        identity_ids = (
            await session.scalars(
                insert(ChatIdentity).returning(ChatIdentity.id),
                [
                    {
                        "channel": Channel.WEB,
                        "external_user_id": f"web-{n}-{i}",
                        "candidate_id": application.candidate_id,
                    }
                    for i in range(count)
                ],
            )
        ).all()
        return list(
            (
                await session.scalars(
                    insert(Conversation).returning(Conversation.id),
                    [
                        {
                            "chat_identity_id": identity_id,
                            "channel": Channel.WEB,
                            "candidate_id": application.candidate_id,
                        }
                        for identity_id in identity_ids
                    ],
                )
            ).all()
        )


async def _open_handoffs(world: World, conversation_ids: list[int], *, first: datetime) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(
            insert(Handoff),
            [
                {"conversation_id": c, "reason": "asked", "opened_at": first + timedelta(seconds=i)}
                for i, c in enumerate(conversation_ids)
            ],
        )


async def test_a_recruiter_sees_their_handoffs_behind_500_older_ones_of_another_team(
    world: World,
) -> None:
    await world.applicant(1)
    await world.applicant(2, team="team-b")
    others = await _conversations(world, 2, 501)
    [own] = await _conversations(world, 1, 1)
    await _open_handoffs(world, others, first=OPENED)
    await _open_handoffs(world, [own], first=OPENED + timedelta(days=1))

    async with world.runtime.sessionmaker() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        outsider = await load_principal(session, world.outsider.id)
        assert recruiter is not None
        assert outsider is not None
        mine = await open_handoffs(session, recruiter)
        theirs = await open_handoffs(session, outsider)

    assert [(h.conversation_id, h.opened_at) for h in mine] == [(own, OPENED + timedelta(days=1))]
    assert [h.conversation_id for h in theirs] == others[:500]


async def test_a_conversation_moves_with_the_candidates_latest_application(
    world: World,
) -> None:
    await world.applicant(1)
    [conversation] = await _conversations(world, 1, 1)
    await _open_handoffs(world, [conversation], first=OPENED)
    # The same candidate applies again, later, to the other team's job.
    await world.post(
        application_created(
            event_id="c-1-again",
            application="app-1-again",
            candidate="cand-1",
            job="job-team-b",
            team="team-b",
            applied_at="2026-03-09T10:00:00+08:00",
        )
    )

    async with world.runtime.sessionmaker() as session:
        recruiter = await load_principal(session, world.recruiter.id)
        outsider = await load_principal(session, world.outsider.id)
        assert recruiter is not None
        assert outsider is not None
        assert await open_handoffs(session, recruiter) == []
        assert [h.conversation_id for h in await open_handoffs(session, outsider)] == [conversation]
