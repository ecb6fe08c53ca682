"""Retention classes, counted and purged: only rows past their period go."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from candor.clock import utcnow
from candor.models import (
    Application,
    AuditEntry,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    OutreachMessage,
)
from candor.models.chat import Direction
from candor.models.enums import ApplicationStatus, Channel
from candor.privacy import retention
from tests.dialogue_world import result_sent
from tests.outreach_world import World


async def test_old_chats_of_candidates_not_hired_go_and_others_stay(world: World) -> None:
    runtime = world.runtime
    now = utcnow()
    for n in (1, 2):
        await world.applicant(n, bind=[Channel.WEB])
        await result_sent(world, n)
    async with runtime.transaction() as session:
        candidates = {c.external_id: c.id for c in await session.scalars(select(Candidate))}
        long_ago = now - timedelta(days=400)
        # Both results went out long ago; candidate 2 was hired.
        await session.execute(update(OutreachMessage).values(sent_at=long_ago))
        await session.execute(update(Application).values(status=ApplicationStatus.REJECTED))
        await session.execute(
            update(Application)
            .where(Application.candidate_id == candidates["cand-2"])
            .values(status=ApplicationStatus.HIRED)
        )
        for external_id, candidate_id in candidates.items():
            identity = await session.scalar(
                select(ChatIdentity).where(ChatIdentity.candidate_id == candidate_id)
            )
            assert identity is not None
            conversation = Conversation(
                chat_identity_id=identity.id, channel=Channel.WEB, candidate_id=candidate_id
            )
            session.add(conversation)
            await session.flush()
            for age in (300, 10):  # one message past the period, one recent
                session.add(
                    ChatMessage(
                        conversation_id=conversation.id,
                        candidate_id=candidate_id,
                        direction=Direction.INBOUND,
                        channel=Channel.WEB,
                        text=f"{external_id} 说的话 {age}",
                        at=now - timedelta(days=age),
                    )
                )

    async with runtime.transaction() as session:
        counted = await retention.purge(
            session, runtime.settings, now=now, dry_run=True, actor="test"
        )
    assert counted["unhired_chats"] == 1
    async with runtime.transaction() as session:
        purged = await retention.purge(
            session, runtime.settings, now=now, dry_run=False, actor="test"
        )
    assert purged["unhired_chats"] == 1
    async with runtime.sessionmaker() as session:
        texts = sorted(t for t in await session.scalars(select(ChatMessage.text)) if t)
        audits = await session.scalar(
            select(func.count()).where(AuditEntry.action == "privacy.purged")
        )
    assert texts == ["cand-1 说的话 10", "cand-2 说的话 10", "cand-2 说的话 300"]
    assert audits == 1


async def test_old_audit_details_go_and_who_did_what_stays(world: World) -> None:
    runtime = world.runtime
    now = utcnow()
    async with runtime.transaction() as session:
        for days in (800, 5):
            session.add(
                AuditEntry(
                    at=now - timedelta(days=days),
                    actor="user:1",
                    action="message.approved",
                    object_type="message",
                    object_id="7",
                    before={"body": "您好 李雷"},
                    after={"body": "您好 李雷！"},
                    details={"why": days},
                )
            )
    async with runtime.transaction() as session:
        report = await retention.purge(
            session, runtime.settings, now=now, dry_run=False, actor="test"
        )
    assert report["audit_details"] == 1
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "message.approved")
                .order_by(AuditEntry.at)
            )
        )
    assert [(r.before, r.details, r.actor, r.object_id) for r in rows] == [
        (None, {}, "user:1", "7"),
        ({"body": "您好 李雷"}, {"why": 5}, "user:1", "7"),
    ]
