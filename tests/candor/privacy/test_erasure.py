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
from candor.models import AuditEntry, Candidate, DeletionRequest, WebhookEvent
from candor.models.privacy import DeletionState
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
    kept_redis = await redis_mentions(runtime, kept.needles)
    assert kept_rows
    assert kept_redis
    kpis = await kpi_facts(runtime)

    settings = runtime.settings.model_copy(update={"privacy_deletion_cooling_off_days": 0})
    async with runtime.transaction() as session:
        await deletion.open_by_admin(
            session, gone.candidate_id, actor="user:1", via="console", settings=settings,
            now=utcnow(),
        )  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        assert await run_job_once(runtime, EraseCandidates()) == 1

    assert await database_mentions(runtime, gone.needles) == []
    assert await redis_mentions(runtime, gone.needles) == []
    assert await rows_mentioning(runtime, kept.needles) == kept_rows
    assert await redis_mentions(runtime, kept.needles) == kept_redis
    assert await kpi_facts(runtime) == kpis
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
        assert erased.details["rows"]["4:chat_messages"] > 0
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
