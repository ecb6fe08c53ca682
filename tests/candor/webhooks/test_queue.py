"""The webhook outbox against a real receiver that verifies signatures with the
`standardwebhooks` library."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.channels.http11 import Http11Transport
from candor.clock import utcnow
from candor.models import ChatDelivery, HRUser
from candor.models.enums import Channel, Role
from candor.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from candor.runtime import Runtime
from candor.webhooks import service
from candor.webhooks.http import WebhookClient
from candor.webhooks.schemas import WebhookEndpointPatch
from candor.worker import PruneWebhookEvents
from tests.candor.webhooks.conftest import ON_PREMISE, Receiver, add_endpoint, queue, record
from tests.factories import make_hr_user


async def deliveries(runtime: Runtime) -> list[WebhookDelivery]:
    async with runtime.sessionmaker() as session:
        found = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return list(found.all())


async def attempts(runtime: Runtime) -> list[WebhookAttempt]:
    async with runtime.sessionmaker() as session:
        found = await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))
        return list(found.all())


@pytest.mark.parametrize("lean", [False, True], ids=["httpx", "http11"])
async def test_an_event_arrives_signed_and_verifies_with_the_endpoint_secret(
    runtime: Runtime, receiver: Receiver, lean: bool
) -> None:
    await add_endpoint(runtime, receiver)
    event_id = await record(runtime, text="周四下午可以吗")
    # httpx's own transport, and the lean one `candor worker` passes in.
    transport = Http11Transport() if lean else None
    worker = queue(
        runtime, client=WebhookClient(timeout=5, allow_private=True, transport=transport)
    )

    await worker.drain()
    await worker.aclose()

    [received] = receiver.state.received
    assert received.verified_by == 0
    assert received.msg_id == event_id
    assert received.payload is not None
    assert received.payload["type"] == "candidate.replied"
    assert received.payload["version"] == 1
    assert received.payload["id"] == event_id
    assert received.payload["occurred_at"].endswith("Z")
    assert received.payload["data"] == {"text": "周四下午可以吗"}
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.DELIVERED
    [attempt] = await attempts(runtime)
    assert attempt.succeeded
    assert attempt.status_code == 200
    assert attempt.latency_ms is not None
    assert attempt.response_excerpt == '{"ok":true}'


async def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    event_id = await record(runtime)
    receiver.state.script = [500, 503]
    worker = queue(runtime)

    await worker.drain()
    await worker.aclose()

    assert [r.msg_id for r in receiver.state.received] == [event_id] * 3
    assert all(r.verified_by == 0 for r in receiver.state.received)
    assert [(a.succeeded, a.status_code, a.error) for a in await attempts(runtime)] == [
        (False, 500, "HTTP 500"),
        (False, 503, "HTTP 503"),
        (True, 200, None),
    ]
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.DELIVERED
    assert delivery.attempts == 3


async def test_a_delivery_waits_for_its_backoff_and_is_given_up_after_the_schedule(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    await record(runtime)
    receiver.state.script = [500] * 10
    waiting = queue(runtime, retry_delays=(timedelta(hours=1),))

    await waiting.drain()  # one attempt, then the next is an hour away

    assert len(receiver.state.received) == 1
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.PENDING
    assert delivery.next_attempt_at > utcnow() + timedelta(minutes=59)
    await waiting.aclose()

    async with runtime.transaction() as session:
        await session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
    impatient = queue(runtime, retry_delays=(timedelta(hours=1),))
    await impatient.drain()
    await impatient.aclose()

    assert len(receiver.state.received) == 2  # the schedule's two attempts, then no more
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.FAILED
    assert delivery.last_error == "HTTP 500"


async def test_events_of_one_application_arrive_in_order_while_others_go_on(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    first = await record(runtime, "application:1", n=1)
    second = await record(runtime, "application:1", n=2)
    other = await record(runtime, "application:2", n=3)
    third = await record(runtime, "application:1", n=4)
    # The first event fails twice: the application's later events wait behind it.
    receiver.state.script = [500]
    worker = queue(runtime, retry_delays=(timedelta(hours=1),) * 3)

    await worker.drain()

    assert [r.msg_id for r in receiver.state.received] == [first, other]
    async with runtime.transaction() as session:
        await session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
    await worker.drain()
    await worker.aclose()

    delivered = [r.msg_id for r in receiver.state.received if r.msg_id != other]
    assert delivered == [first, first, second, third]


async def test_a_given_up_event_lets_the_next_one_of_its_application_go(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    first = await record(runtime, "application:1")
    second = await record(runtime, "application:1")
    receiver.state.script = [500] * 4  # every attempt of the first (4 with these retries)
    worker = queue(runtime)

    await worker.drain()
    await worker.aclose()

    assert [r.msg_id for r in receiver.state.received] == [first] * 4 + [second]
    states = [d.state for d in await deliveries(runtime)]
    assert states == [WebhookDeliveryState.FAILED, WebhookDeliveryState.DELIVERED]


async def test_a_killed_worker_loses_nothing_another_delivers_with_the_same_id(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    event_id = await record(runtime)
    killed = queue(runtime, worker_id="killed", lease=timedelta(milliseconds=1))
    await killed.fan_out()
    [claimed] = await killed.claim_due()
    # The worker dies here: claimed, never sent nor recorded. Its lease then runs out.
    await asyncio.sleep(0.01)
    survivor = queue(runtime, worker_id="survivor")

    await survivor.drain()
    # The killed worker's late record (had it only stalled) does not overwrite anything.
    await killed.record([(claimed, await killed.send(claimed))])
    await killed.aclose()
    await survivor.aclose()

    assert [r.msg_id for r in receiver.state.received] == [event_id, event_id]
    assert killed.stats.lost_claims == 1
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.DELIVERED
    assert delivery.claimed_by == "survivor"
    assert len(await attempts(runtime)) == 1


async def test_during_the_grace_both_secrets_sign_and_after_it_only_the_new(
    runtime: Runtime, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(runtime, receiver)
    old_receiver_secret = receiver.state.secrets[0]
    async with runtime.transaction() as session:
        rotated = await service.rotate_secret(
            session, endpoint.id, ON_PREMISE, actor="test:admin", now=utcnow()
        )
    new_secret = rotated.secret
    assert new_secret != old_receiver_secret
    during = await record(runtime)
    worker = queue(runtime)
    await worker.drain()

    # The receiver still holding the old secret verifies; so would one with the new one.
    [received] = receiver.state.received
    assert received.verified_by == 0
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    receiver.state.secrets[:] = [new_secret]
    receiver.state.received.clear()

    async with runtime.transaction() as session:
        await session.execute(update(WebhookEndpoint).values(previous_secret_expires_at=utcnow()))
    after = await record(runtime)
    receiver.state.secrets[:] = [old_receiver_secret, new_secret]
    await worker.drain()
    await worker.aclose()

    [received] = receiver.state.received
    assert received.msg_id == after != during
    assert received.verified_by == 1  # only the new secret
    assert len(received.headers["webhook-signature"].split(" ")) == 1


async def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_admins_told(
    runtime: Runtime, receiver: Receiver
) -> None:
    async with runtime.transaction() as session:
        admin = await make_hr_user(session, role=Role.ADMIN, email="it-admin@example.com")
        await make_hr_user(session, role=Role.RECRUITER, email="recruiter@example.com")
    await add_endpoint(runtime, receiver)
    first = await record(runtime)
    receiver.state.script = [500] * 100
    worker = queue(
        runtime, retry_delays=(timedelta(0),) * 50, disable_after=timedelta(milliseconds=200)
    )

    await worker.run_once()
    await asyncio.sleep(0.25)
    await worker.drain()

    async with runtime.sessionmaker() as session:
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
        mails = (await session.scalars(select(ChatDelivery))).all()
        admin_email = await session.scalar(select(HRUser.email).where(HRUser.id == admin.id))
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason is not None
    assert "HTTP 500" in endpoint.disabled_reason
    assert [(m.channel, m.recipient) for m in mails] == [(Channel.EMAIL, admin_email)]
    assert "disabled" in mails[0].subject
    tried = len(receiver.state.received)
    assert tried == 2  # nothing more is sent to a disabled endpoint
    queued_meanwhile = await record(runtime)
    await worker.drain()
    assert len(receiver.state.received) == tried

    # The admin fixes the receiver and enables it: the queue goes on, in order.
    receiver.state.script.clear()
    async with runtime.transaction() as session:
        await service.update_endpoint(
            session,
            endpoint.id,
            WebhookEndpointPatch(enabled=True),
            ON_PREMISE,
            actor="test:admin",
            now=utcnow(),
        )
    await worker.drain()
    await worker.aclose()
    assert [r.msg_id for r in receiver.state.received[tried:]] == [first, queued_meanwhile]


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    await record(runtime)
    receiver.state.script = [307]
    receiver.state.redirect_to = receiver.url  # even back to itself: never followed
    worker = queue(runtime, retry_delays=(timedelta(hours=1),))

    await worker.drain()
    await worker.aclose()

    assert len(receiver.state.received) == 1
    [attempt] = await attempts(runtime)
    assert not attempt.succeeded
    assert attempt.status_code == 307
    assert attempt.error == f"redirect to {receiver.url!r} not followed"


async def test_a_private_address_is_refused_at_send_time_without_a_request(
    runtime: Runtime, receiver: Receiver
) -> None:
    # Saved while private networks were allowed; the worker's setting now refuses them.
    await add_endpoint(runtime, receiver)
    await record(runtime)
    worker = queue(
        runtime,
        client=WebhookClient(timeout=5, allow_private=False),
        retry_delays=(timedelta(hours=1),),
    )

    await worker.drain()
    await worker.aclose()

    assert receiver.state.received == []
    [attempt] = await attempts(runtime)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "loopback address 127.0.0.1" in attempt.error


async def test_an_event_nobody_subscribed_to_is_dropped_and_others_are_filtered(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver, types=[WebhookEventType.CSAT_RECORDED])
    await record(runtime, event_type=WebhookEventType.CANDIDATE_REPLIED)
    wanted = await record(runtime, event_type=WebhookEventType.CSAT_RECORDED)
    worker = queue(runtime)

    await worker.drain()
    await worker.aclose()

    assert [r.msg_id for r in receiver.state.received] == [wanted]
    async with runtime.sessionmaker() as session:
        kept = (await session.scalars(select(WebhookEvent.public_id))).all()
    assert kept == [wanted]


async def test_settled_events_past_the_retention_are_pruned_with_their_attempts(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    delivered = await record(runtime, "application:1")
    await record(runtime, "application:2")
    receiver.state.script = [200, 500]  # the second keeps retrying (an hour away)
    worker = queue(runtime, retry_delays=(timedelta(hours=1),))
    await worker.drain()
    await worker.aclose()
    async with runtime.transaction() as session:
        await session.execute(
            update(WebhookEvent).values(occurred_at=utcnow() - timedelta(days=31))
        )

    pruned = await PruneWebhookEvents().run(runtime)

    assert pruned == 1
    async with runtime.sessionmaker() as session:
        left = (await session.scalars(select(WebhookEvent.public_id))).all()
    assert delivered not in left
    assert len(left) == 1  # the one still being retried stays
    assert len(await deliveries(runtime)) == 1
    assert len(await attempts(runtime)) == 1


async def test_a_later_event_waits_while_another_worker_still_fans_out_an_earlier_one(
    runtime: Runtime, receiver: Receiver
) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer runs one fan-out at a time: no other worker beside")
    await add_endpoint(runtime, receiver)
    first = await record(runtime, "application:1", n=1)
    second = await record(runtime, "application:1", n=2)
    other = await record(runtime, "application:2", n=3)
    slow, fast = queue(runtime, worker_id="slow"), queue(runtime, worker_id="fast")

    # The slow worker is in the middle of fanning out the first event: it holds its row.
    async with runtime.sessionmaker() as holding, holding.begin():
        await holding.execute(
            select(WebhookEvent.id)
            .where(WebhookEvent.public_id == first)
            .with_for_update(skip_locked=True)
        )
        await fast.run_once()
        await fast.run_once()
        # The fast worker fanned out the rest, yet the second event waits behind the first.
        assert [r.msg_id for r in receiver.state.received] == [other]

    await slow.drain()
    await fast.drain()
    await slow.aclose()
    await fast.aclose()
    assert [r.msg_id for r in receiver.state.received] == [other, first, second]


async def enable_again(runtime: Runtime, endpoint_id: int) -> None:
    async with runtime.transaction() as session:
        await service.update_endpoint(
            session,
            endpoint_id,
            WebhookEndpointPatch(enabled=True),
            ON_PREMISE,
            actor="test:admin",
            now=utcnow(),
        )


async def test_the_event_whose_last_failure_disables_the_endpoint_is_resent_on_enabling(
    runtime: Runtime, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(runtime, receiver)
    given_up = await record(runtime, "application:1")
    receiver.state.script = [500] * 2
    # One attempt each: the first is given up; the second's failure also disables.
    worker = queue(runtime, retry_delays=(), disable_after=timedelta(milliseconds=200))
    await worker.drain()
    await asyncio.sleep(0.25)
    tipping = await record(runtime, "application:2")
    await worker.drain()
    states = [d.state for d in await deliveries(runtime)]
    assert states == [WebhookDeliveryState.FAILED, WebhookDeliveryState.PENDING]

    await enable_again(runtime, endpoint.id)
    await worker.drain()
    await worker.aclose()

    assert [r.msg_id for r in receiver.state.received] == [given_up, tipping] * 2
    states = [d.state for d in await deliveries(runtime)]
    assert states == [WebhookDeliveryState.DELIVERED] * 2


async def test_enabling_again_resends_at_once_not_at_the_old_schedule(
    runtime: Runtime, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(runtime, receiver)
    first = await record(runtime, "application:1")
    receiver.state.script = [500]
    worker = queue(runtime, retry_delays=(timedelta(hours=24),), disable_after=timedelta(0))
    await worker.drain()  # failed once, disabled, its next attempt a day away

    await enable_again(runtime, endpoint.id)
    await worker.drain()
    await worker.aclose()

    assert [r.msg_id for r in receiver.state.received] == [first, first]
    [delivery] = await deliveries(runtime)
    assert delivery.state is WebhookDeliveryState.DELIVERED
    assert delivery.attempts == 1
