"""What the erasure must not leave open while it runs, and what it must not touch: links
and codes that could still reach the candidate, open work nobody could close, messages and
events about to be sent, an answer written back mid-erasure, an ATS event re-creating them,
and other people's keys and rows that merely resemble theirs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from bot.conversation import ConversationGateway
from candor.ats.errors import ErasedReferenceError
from candor.chat import binding
from candor.chat.engine import Turn
from candor.chat.messages import Reply
from candor.clock import utcnow
from candor.models import (
    Application,
    Candidate,
    ChatIdentity,
    ChatMessage,
    DeletionRequest,
    Handoff,
    MessageTransition,
    OutreachMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from candor.models.enums import Channel
from candor.models.outreach import MessageState
from candor.models.webhooks import WebhookDeliveryState, WebhookEventType
from candor.privacy import deletion, erasure
from candor.privacy import service as privacy
from candor.privacy.errors import DeletionFinishedError
from candor.webhooks import events
from candor.webhooks import service as webhook_service
from candor.webhooks.http import WebhookClient
from candor.webhooks.queue import WebhookQueue
from candor.webhooks.schemas import WebhookEndpointPatch
from candor.webhooks.service import WebhookPolicy
from candor.worker import EraseCandidates, run_job_once
from tests.dialogue_world import Chat
from tests.factories import application_created
from tests.outreach_world import World, hr

NO_COOLING_OFF = {"privacy_deletion_cooling_off_days": 0}


async def candidate_id(world: World, n: int) -> int:
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(Candidate.id).where(Candidate.external_id == f"cand-{n}")
        )
    assert found is not None
    return found


async def request_deletion(world: World, n: int) -> int:
    settings = world.runtime.settings.model_copy(update=NO_COOLING_OFF)
    async with world.runtime.transaction() as session:
        request = await deletion.open_by_admin(
            session, await candidate_id(world, n), actor="user:1", via="cli",
            settings=settings, now=utcnow(),
        )  # fmt: skip
        return request.id


async def start_erasure(world: World, n: int) -> None:
    """Only the erasure's first step, as a worker that died right after it leaves it."""
    request_id = await request_deletion(world, n)
    async with world.runtime.transaction() as session:
        request = await deletion.lock_request(session, request_id)
        assert request is not None
        await erasure.start(session, request, now=utcnow())


async def test_links_and_codes_stop_working_as_soon_as_the_erasure_starts(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    now = utcnow()
    async with world.runtime.transaction() as session:
        candidate = await session.get_one(Candidate, await candidate_id(world, 1))
        export = await privacy.create_link(
            session, candidate, via="chat", valid_for=timedelta(hours=1), now=now
        )
        application = await session.scalar(
            select(Application).where(Application.external_id == "app-1")
        )
        assert application is not None
        link = await binding.issue_token(
            session, application, Channel.TELEGRAM, actor="user:1", now=now,
            valid_for=timedelta(days=7),
        )  # fmt: skip
    await start_erasure(world, 1)

    async with world.runtime.transaction() as session:
        taken = await privacy.take(session, export.token, client=None, now=utcnow())
        assert isinstance(taken, privacy.ExportLinkError)
        identity = ChatIdentity(channel=Channel.TELEGRAM, external_user_id="new-account")
        session.add(identity)
        await session.flush()
        assert await binding.redeem_token(session, identity, link.plaintext, now=utcnow()) is None


async def test_a_second_deletion_of_an_erased_candidate_is_refused(world: World) -> None:
    await world.applicant(1)
    erased_id = await candidate_id(world, 1)
    await request_deletion(world, 1)
    assert await run_job_once(world.runtime, EraseCandidates()) == 1
    settings = world.runtime.settings
    async with world.runtime.transaction() as session:
        with pytest.raises(DeletionFinishedError) as refused:
            await deletion.open_by_admin(
                session, erased_id, actor="user:1", via="cli",
                settings=settings, now=utcnow(),
            )  # fmt: skip
    assert (refused.value.code, refused.value.http_status) == ("deletion_already_finished", 409)
    async with world.runtime.sessionmaker() as session:
        assert len((await session.scalars(select(DeletionRequest))).all()) == 1


async def test_open_work_is_closed_and_unsent_messages_end_and_leave_every_queue(
    world: World, gateway: ConversationGateway, api: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    await world.decide(1, "reject")  # a draft waiting for HR's approval
    await Chat(world, gateway, "web-user-1").say("转人工")
    headers = hr(world.recruiter_token)
    listed = await api.get("/api/v1/conversations/handoffs", headers=headers)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 1
    queue = await api.get("/api/v1/outreach/messages?state=pending_approval", headers=headers)
    assert queue.status_code == 200, queue.text
    assert len(queue.json()) == 1

    await request_deletion(world, 1)
    assert await run_job_once(world.runtime, EraseCandidates()) == 1

    async with world.runtime.sessionmaker() as session:
        handoff = await session.scalar(select(Handoff))
        assert handoff is not None
        assert handoff.closed_by == "system:privacy"
        message = await session.scalar(select(OutreachMessage))
        assert message is not None
        assert message.state is MessageState.REJECTED
        last = await session.scalar(
            select(MessageTransition)
            .where(MessageTransition.message_id == message.id)
            .order_by(MessageTransition.id.desc())
        )
        assert last is not None
        assert last.actor == "system:privacy"
    listed = await api.get("/api/v1/conversations/handoffs", headers=headers)
    assert listed.json() == []
    queue = await api.get("/api/v1/outreach/messages?state=pending_approval", headers=headers)
    assert queue.json() == []
    approve = await api.post(
        f"/api/v1/outreach/messages/{message.id}/approve", headers=hr(world.recruiter_token, "a-1")
    )
    assert approve.status_code == 404, approve.text


async def test_a_hand_off_opened_mid_erasure_stays_out_of_the_queue(
    world: World, gateway: ConversationGateway, api: httpx.AsyncClient
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    conversation_id = await Chat(world, gateway, "web-user-1").say("你好") and (
        await Chat(world, gateway, "web-user-1").conversation_id()
    )
    await start_erasure(world, 1)
    # What another process (Rasa's action server) may still write for them meanwhile.
    async with world.runtime.transaction() as session:
        session.add(Handoff(conversation_id=conversation_id, reason="asked"))
    listed = await api.get("/api/v1/conversations/handoffs", headers=hr(world.recruiter_token))
    assert listed.status_code == 200, listed.text
    assert listed.json() == []


async def test_their_pending_webhook_events_are_superseded_and_the_ats_cannot_recreate_them(
    world: World,
) -> None:
    async with world.runtime.transaction() as session:
        session.add(
            WebhookEndpoint(
                url="https://ats.example.com/hook", secret="s" * 32, created_by="user:1",
                event_types=[event.value for event in WebhookEventType],
            )
        )  # fmt: skip
    await world.applicant(1, bind=[Channel.WEB])
    await world.applicant(2, bind=[Channel.WEB])
    async with world.runtime.transaction() as session:
        for n in (1, 2):
            events.record_event(
                session,
                WebhookEventType.CANDIDATE_OPTED_OUT,
                ordering_key=events.candidate_key(await candidate_id(world, n)),
                data={"candidate_external_id": f"cand-{n}", "at": "2026-03-05T10:00:00Z"},
                now=utcnow(),
            )
    queue = WebhookQueue(world.runtime, client=WebhookClient(timeout=0.2, allow_private=False))
    assert await queue.fan_out() == 2
    gone_key = events.candidate_key(await candidate_id(world, 1))
    await request_deletion(world, 1)
    assert await run_job_once(world.runtime, EraseCandidates()) == 1

    async with world.runtime.sessionmaker() as session:
        deliveries = (await session.scalars(select(WebhookDelivery))).all()
    # Not sent with their data redacted: given up (the reason is erased with the rest).
    states = {(d.ordering_key == gone_key, d.state) for d in deliveries}
    assert states == {(True, WebhookDeliveryState.FAILED), (False, WebhookDeliveryState.PENDING)}
    # The endpoint had been failing; an admin enables it again: only the other candidate's
    # delivery is queued again, never the given-up one with its redacted data.
    async with world.runtime.transaction() as session:
        endpoint = await session.scalar(select(WebhookEndpoint))
        assert endpoint is not None
        endpoint.enabled = False
        endpoint.disabled_at = endpoint.failing_since = utcnow() - timedelta(days=4)
        await session.execute(
            update(WebhookDelivery).values(
                state=WebhookDeliveryState.FAILED, updated_at=utcnow() - timedelta(days=1)
            )
        )
        endpoint_id = endpoint.id
    async with world.runtime.transaction() as session:
        await webhook_service.update_endpoint(
            session,
            endpoint_id,
            WebhookEndpointPatch(enabled=True),
            WebhookPolicy.from_settings(world.runtime.settings),
            actor="user:1",
            now=utcnow(),
        )
    async with world.runtime.sessionmaker() as session:
        deliveries = (await session.scalars(select(WebhookDelivery))).all()
    states = {(d.ordering_key == gone_key, d.state) for d in deliveries}
    assert states == {(True, WebhookDeliveryState.FAILED), (False, WebhookDeliveryState.PENDING)}

    # The ATS sends an event it had in flight for the erased ids: refused, nobody re-created.
    with pytest.raises(ErasedReferenceError) as refused:
        await world.post(
            application_created(
                event_id="in-flight-1", application="app-1", candidate="cand-1",
                job="job-team-a", team="team-a",
            )
        )  # fmt: skip
    assert (refused.value.code, refused.value.http_status) == ("erased_reference", 409)
    with pytest.raises(ErasedReferenceError):
        await world.decide(1, "reject", version=2)
    async with world.runtime.sessionmaker() as session:
        assert (
            await session.scalar(select(Candidate).where(Candidate.external_id == "cand-1")) is None
        )
        assert await session.scalar(select(Candidate).where(Candidate.external_id == "cand-2"))


async def test_only_keys_named_by_their_exact_identifiers_go_from_redis(world: World) -> None:
    redis = world.runtime.redis
    kept = {
        "candor:job-lock:sla_watch": "worker-42",  # a job lock held right now
        "candor:console:session:s3cr3t": '{"user_id": 42, "at": 1742}',
        "candor:chat:lock:telegram:42": "token",  # a message of theirs being handled
        "candor:telegram:rate:421": "1",  # another account whose id starts like theirs
        "wechat:wx:inbound:msg:9": "answered:王小明你好",
    }
    gone = {"candor:telegram:rate:42": "1", "wechat:wx:inbound:msg:8": "answered:韩梅梅你好"}
    for key, value in {**kept, **gone}.items():
        await redis.set(key, value)

    assert await erasure.erase_redis(redis, ["42"], ["韩梅梅"]) == 2

    assert {key: await redis.get(key) for key in kept} == kept
    assert [await redis.get(key) for key in gone] == [None, None]


class HeldEngine:
    """An engine that answers only when let go, as Rasa over HTTP may take seconds."""

    name = "held"

    def __init__(self) -> None:
        self.answering = asyncio.Event()
        self.let_go = asyncio.Event()

    async def respond(self, session: object, turn: Turn) -> list[Reply]:
        self.answering.set()
        await self.let_go.wait()
        return [Reply("好的，王小明同学，这是你的面试进度")]


async def test_an_answer_pending_when_the_erasure_starts_leaves_nothing_behind(
    world: World,
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    engine = HeldEngine()
    held = ConversationGateway(world.runtime, engine=engine)
    chat = Chat(world, held, "web-user-1")
    turn = asyncio.create_task(chat.say("我的面试结果出来了吗"))
    await asyncio.wait_for(engine.answering.wait(), timeout=10)
    await request_deletion(world, 1)
    erasing = asyncio.create_task(run_job_once(world.runtime, EraseCandidates()))
    # The erasure may wait for the answer (it locks the account), or run first: either way
    # the answer is let go, and nothing of it may outlive the erasure.
    await asyncio.wait({erasing}, timeout=1.5)
    engine.let_go.set()
    await turn
    assert await erasing == 1
    async with world.runtime.sessionmaker() as session:
        texts = list(await session.scalars(select(ChatMessage.text)))
    assert [t for t in texts if t is not None] == []
