"""Retention classes, counted and purged: only rows past their period go."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from candor.clock import utcnow
from candor.kpis import facts
from candor.models import (
    Application,
    AuditEntry,
    Candidate,
    ChatIdentity,
    ChatMessage,
    Conversation,
    DeletionRequest,
    DialogueState,
    OutreachMessage,
)
from candor.models.chat import Direction
from candor.models.enums import ApplicationStatus, Channel
from candor.models.nlu_review import MisreadMessage, ReviewState
from candor.models.privacy import DeletionState
from candor.privacy import retention
from tests.dialogue_world import result_sent
from tests.outreach_world import World
from tests.privacy_world import kpi_facts


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


async def test_candidates_not_hired_and_long_quiet_get_a_deletion_request(world: World) -> None:
    runtime = world.runtime
    now = utcnow()
    for n in (1, 2, 3, 4):
        await world.applicant(n)
    long_ago = now - timedelta(days=400)
    async with runtime.transaction() as session:
        candidates = {c.external_id: c.id for c in await session.scalars(select(Candidate))}
        # 1: rejected long ago; 2: hired long ago; 3: rejected recently; 4: still moving.
        statuses = {
            "cand-1": ApplicationStatus.REJECTED,
            "cand-2": ApplicationStatus.HIRED,
            "cand-3": ApplicationStatus.REJECTED,
            "cand-4": ApplicationStatus.ACTIVE,
        }
        for external_id, status in statuses.items():
            quiet_since = now - timedelta(days=30) if external_id == "cand-3" else long_ago
            await session.execute(
                update(Application)
                .where(Application.candidate_id == candidates[external_id])
                .values(status=status, updated_at=quiet_since)
            )
        await session.execute(update(Candidate).values(updated_at=long_ago))

    async with runtime.transaction() as session:
        counted = await retention.purge(
            session, runtime.settings, now=now, dry_run=True, actor="test"
        )
        assert await session.scalar(select(func.count(DeletionRequest.id))) == 0
    assert counted[retention.UNHIRED_CANDIDATES] == 1
    async with runtime.transaction() as session:
        opened = await retention.purge(
            session, runtime.settings, now=now, dry_run=False, actor="system:worker"
        )
    assert opened[retention.UNHIRED_CANDIDATES] == 1
    async with runtime.transaction() as session:
        again = await retention.purge(
            session, runtime.settings, now=now, dry_run=False, actor="system:worker"
        )
    assert again[retention.UNHIRED_CANDIDATES] == 0  # one request per candidate
    async with runtime.sessionmaker() as session:
        requests = list(await session.scalars(select(DeletionRequest)))
    assert [(r.candidate_id, r.state, r.via, r.requested_by) for r in requests] == [
        (candidates["cand-1"], DeletionState.PENDING, "retention", "system:retention")
    ]
    cooling_off = timedelta(days=runtime.settings.privacy_deletion_cooling_off_days)
    assert requests[0].erase_after == now + cooling_off  # admins may still hold it


async def test_chats_never_answered_with_a_result_unbound_accounts_and_dialogue_memory_go(
    world: World,
) -> None:
    # The gaps: a candidate never sent a result, an account never bound, the dialogue's
    # memory and the messages queued for NLU review; the KPI facts do not change.
    runtime = world.runtime
    now = utcnow()
    long_ago = now - timedelta(days=400)
    await world.applicant(1, bind=[Channel.WEB])
    async with runtime.transaction() as session:
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
        await session.execute(
            update(Application).values(status=ApplicationStatus.REJECTED, updated_at=long_ago)
        )
        bound = await session.scalar(
            select(ChatIdentity).where(ChatIdentity.candidate_id == candidate.id)
        )
        assert bound is not None
        stranger = ChatIdentity(channel=Channel.WEB, external_user_id="web-never-bound")
        session.add(stranger)
        await session.flush()
        conversations = {}
        for name, identity, owner in (
            ("mine", bound, candidate.id),
            ("stranger", stranger, None),
        ):
            conversation = Conversation(
                chat_identity_id=identity.id, channel=Channel.WEB, candidate_id=owner
            )
            session.add(conversation)
            await session.flush()
            conversations[name] = conversation.id
            for age in (300, 10):
                session.add(
                    ChatMessage(
                        conversation_id=conversation.id,
                        candidate_id=owner,
                        direction=Direction.INBOUND,
                        channel=Channel.WEB,
                        text=f"{name} 说的话 {age}",
                        at=now - timedelta(days=age),
                    )
                )
        session.add(
            DialogueState(
                conversation_id=conversations["mine"],
                events=[{"event": "user", "text": "mine 说的话 300"}],
                updated_at=now - timedelta(days=300),
            )
        )
        session.add(
            DialogueState(
                conversation_id=conversations["stranger"],
                events=[{"event": "user", "text": "stranger 说的话 10"}],
                updated_at=now - timedelta(days=10),
            )
        )
        for key, state, age in (
            ("old-pending", ReviewState.PENDING, 300),
            ("old-dismissed", ReviewState.DISMISSED, 300),
            ("old-approved", ReviewState.APPROVED, 300),
            ("new-pending", ReviewState.PENDING, 10),
        ):
            session.add(
                MisreadMessage(
                    dedupe_key=key,
                    conversation_id=conversations["mine"],
                    text=f"{key} 没看懂的话",
                    state=state,
                    received_at=now - timedelta(days=age),
                )
            )
    kpis = await kpi_facts(runtime)

    async with runtime.transaction() as session:
        counted = await retention.purge(
            session, runtime.settings, now=now, dry_run=True, actor="test"
        )
    async with runtime.transaction() as session:
        purged = await retention.purge(
            session, runtime.settings, now=now, dry_run=False, actor="test"
        )

    expected = {"unhired_chats": 1, "unbound_chats": 1, "dialogue_states": 1, "nlu_review": 2}
    assert {k: counted[k] for k in expected} == expected
    assert {k: purged[k] for k in expected} == expected
    async with runtime.sessionmaker() as session:
        texts = sorted(t for t in await session.scalars(select(ChatMessage.text)) if t)
        states = list(await session.scalars(select(DialogueState.conversation_id)))
        review = sorted(await session.scalars(select(MisreadMessage.dedupe_key)))
        assert set((await facts.differences(session)).values()) <= {0}
    assert texts == ["mine 说的话 10", "stranger 说的话 10"]
    assert states == [conversations["stranger"]]
    assert review == ["new-pending", "old-approved"]  # approved: trained on, kept
    assert await kpi_facts(runtime) == kpis
