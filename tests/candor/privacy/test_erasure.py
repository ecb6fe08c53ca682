"""Erasing a candidate: nothing of theirs is left anywhere, another candidate is untouched,
the KPI figures do not change, and the ATS is told."""

from __future__ import annotations

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.conversation import ConversationGateway
from candor.clock import utcnow
from candor.kpis import facts
from candor.models import (
    AuditEntry,
    Candidate,
    Conversation,
    DeletionRequest,
    Handoff,
    WebhookEvent,
)
from candor.models.privacy import DeletionState
from candor.models.scheduling import (
    LIVE_STATES,
    BookingState,
    InterviewBooking,
    InvitationState,
    SchedulingInvitation,
)
from candor.models.webhooks import WebhookEventType
from candor.privacy import deletion, erasure
from candor.worker import EraseCandidates, run_job_once
from tests.outreach_world import World
from tests.privacy_world import (
    database_mentions,
    kpi_facts,
    redis_mentions,
    rows_mentioning,
    seed_everywhere,
)


async def test_an_erased_candidate_is_nowhere_and_the_other_is_untouched(
    world: World, gateway: ConversationGateway, api: httpx.AsyncClient
) -> None:
    runtime = world.runtime
    gone = await seed_everywhere(
        world, gateway, api, 1, name="韩梅梅", mobile="13911112222", email="meimei.han@example.com"
    )
    kept = await seed_everywhere(
        world, gateway, api, 2, name="王小明", mobile="13733334444", email="xm.wang@example.org"
    )
    # Someone who only resembles them: the same name, ids that start like theirs
    # ("cand-10" after "cand-1"), and keys of Redis that are nobody's to erase.
    await world.applicant(10, name=gone.name, mobile="13911112223", email="mm.han@example.net")
    namesake = ("cand-10", "app-10", "13911112223")
    namesake_rows = await rows_mentioning(runtime, namesake)
    assert namesake_rows
    bystanders = {"candor:job-lock:sla_watch": "worker-1", "candor:console:session:abc": "1"}
    for key, value in bystanders.items():
        await runtime.redis.set(key, value)
    # The seeding really spread them everywhere the scan looks.
    before = await database_mentions(runtime, gone.needles)
    for place in (
        "candidates.name",
        "chat_messages.text",
        "outreach_messages.body",
        "chat_identities.external_user_id",
        "chat_identities.external_user_id_index",
        "candidates.mobile_index",
        "chat_deliveries.recipient",
        "data_exports.content",
        "ats_events.response_body",
        "webhook_events.payload",
    ):
        assert any(found.startswith(place) for found in before), place
    assert await redis_mentions(runtime, gone.needles) != []
    kept_rows = await rows_mentioning(runtime, kept.needles)
    # A rate limiter's keys live a second or two: what expires by itself proves nothing.
    short_lived = [
        key
        async for key in runtime.redis.scan_iter()
        if 0 <= await runtime.redis.pttl(key) < 60_000
    ]
    kept_redis = without(await redis_mentions(runtime, kept.needles), short_lived)
    assert kept_rows
    assert kept_redis
    kpis = await kpi_facts(runtime)
    async with runtime.sessionmaker() as session:
        gone_conversations = set(
            await session.scalars(
                select(Conversation.id).where(Conversation.candidate_id == gone.candidate_id)
            )
        )

    settings = runtime.settings.model_copy(update={"privacy_deletion_cooling_off_days": 0})
    async with runtime.transaction() as session:
        await deletion.open_by_admin(
            session, gone.candidate_id, actor="user:1", via="console", settings=settings,
            now=utcnow(),
        )  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        assert await run_job_once(runtime, EraseCandidates()) == 1

    # Their name stays only where the namesake's own rows hold it.
    identifiers = tuple(n for n in gone.needles if n != gone.name)
    assert await database_mentions(runtime, identifiers) == []
    assert set(await rows_mentioning(runtime, (gone.name,))) <= set(namesake_rows)
    assert await rows_mentioning(runtime, namesake) == namesake_rows
    assert await redis_mentions(runtime, gone.needles) == []
    assert {key: await runtime.redis.get(key) for key in bystanders} == bystanders
    assert await rows_mentioning(runtime, kept.needles) == kept_rows
    assert without(await redis_mentions(runtime, kept.needles), short_lived) == kept_redis
    # Only their open hand-off changed: the erasure closed it.
    after = await kpi_facts(runtime)
    assert {t: rows for t, rows in after.items() if t != "kpi_handoff_facts"} == {
        t: rows for t, rows in kpis.items() if t != "kpi_handoff_facts"
    }
    async with runtime.sessionmaker() as session:
        assert set((await facts.differences(session)).values()) == {0}
        request = await session.scalar(select(DeletionRequest))
        assert request is not None
        assert request.state is DeletionState.DONE
        assert request.subject == {}
        event = await session.scalar(
            select(WebhookEvent).where(WebhookEvent.type == WebhookEventType.CANDIDATE_DELETED)
        )
        assert event is not None
        assert event.payload["data"]["candidate_external_id"] == "cand-1"
        assert event.payload["data"]["application_external_ids"] == ["app-1"]
        erased = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "privacy.candidate_erased")
        )
        assert erased is not None
        assert erased.details["rows"]["8:chat_messages"] > 0
        handoffs = (await session.scalars(select(Handoff))).all()
        assert {h.closed_by for h in handoffs if h.conversation_id in gone_conversations} == {
            "system:privacy"
        }
        assert any(h.closed_at is None for h in handoffs)  # the other candidate's stays open
        # Their booking link is dead and their seat free; the other's booking stands.
        invitations = {
            i.application_id: i for i in (await session.scalars(select(SchedulingInvitation)))
        }
        bookings = (await session.scalars(select(InterviewBooking))).all()
    gone_app, kept_app = sorted(invitations)
    assert invitations[gone_app].state is InvitationState.CLOSED
    assert invitations[gone_app].token.startswith("erased-")
    assert invitations[kept_app].state is InvitationState.BOOKED
    assert {(b.application_id, b.state) for b in bookings if b.state in LIVE_STATES} == {
        (kept_app, BookingState.CONFIRMED)
    }
    # The logs of the erasure hold none of it either.
    logged = str(logs).lower()
    assert [n for n in gone.needles if n.lower() in logged] == []


async def test_the_erasures_working_set_is_sealed_at_rest_and_still_read(world: World) -> None:
    # While the erasure runs, the request holds every identifier it looks for: sealed.
    runtime = world.runtime
    await world.applicant(1, mobile="13922223333", email="meimei.han@example.com")
    async with runtime.sessionmaker() as session:
        candidate = await session.scalar(select(Candidate))
        assert candidate is not None
    settings = runtime.settings.model_copy(update={"privacy_deletion_cooling_off_days": 0})
    async with runtime.transaction() as session:
        request = await deletion.open_by_admin(
            session, candidate.id, actor="user:1", via="console", settings=settings, now=utcnow()
        )
        await erasure.start(session, request, now=utcnow())
        request_id = request.id

    async with runtime.engine.connect() as connection:
        (stored,) = (
            await connection.execute(sql("SELECT CAST(subject AS TEXT) FROM deletion_requests"))
        ).one()
    assert "enc:v1:" in stored
    for plaintext in ("meimei.han", "13922223333", "cand-1", "app-1"):
        assert plaintext not in stored

    assert await erasure.erase(runtime, request_id)
    async with runtime.sessionmaker() as session:
        done = await session.get_one(DeletionRequest, request_id)
        erased = await session.get_one(Candidate, candidate.id)
    assert done.state is DeletionState.DONE
    assert done.subject == {}
    assert erased.email is None or "meimei" not in erased.email
    assert erased.external_id != "cand-1"


def without(mentions: list[str], keys: list[str]) -> list[str]:
    return [m for m in mentions if not any(m.startswith(f"redis {key}: ") for key in keys)]
