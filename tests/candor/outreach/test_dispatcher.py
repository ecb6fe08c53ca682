from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from candor.clock import utcnow
from candor.delivery.ports import Sent
from candor.models.enums import Channel
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.outreach.dispatcher import Dispatcher, backoff, record_receipt
from tests.candor.outreach.conftest import webhook_dispatcher as dispatcher
from tests.fakes import RunningFakeChannel
from tests.outreach_world import World, install_unchecked_template


async def make_due_now(world: World) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))


async def the_message(world: World) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return (await session.scalars(select(OutreachMessage))).one()


async def items(world: World) -> list[OutboxItem]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def queued_advance(world: World, n: int = 1, bind: list[Channel] | None = None) -> None:
    await world.applicant(n, bind=[Channel.WECHAT] if bind is None else bind)
    await world.decide(n, "advance")
    await make_due_now(world)


async def test_a_queued_message_is_sent_once_and_marked_sent(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    worker = await dispatcher(world, fake, http)

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    [delivery] = fake.state.deliveries
    message = await the_message(world)
    [item] = await items(world)
    assert delivery["recipient"] == "wechat-user-1"
    assert delivery["channel"] == "wechat"
    assert "恭喜" in delivery["body"]
    assert message.state is MessageState.SENT
    assert message.channel is Channel.WECHAT
    assert item.state is OutboxState.SENT
    assert item.provider_message_id == delivery["id"]


async def test_a_template_broken_after_drafting_does_not_stop_the_send(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    """The dispatcher sends the text drafted (or written) when the message was approved; it
    never renders the template again, so a template changed since cannot fail the send."""
    await queued_advance(world)
    drafted = (await the_message(world)).body
    await install_unchecked_template(world.runtime, "advance.zh-CN", body="{{ 1 // 0 }}")

    assert await (await dispatcher(world, fake, http)).run_once() == 1

    [delivery] = fake.state.deliveries
    assert delivery["body"] == drafted
    assert (await the_message(world)).state is MessageState.SENT


async def test_the_wechat_template_of_the_message_goes_with_it(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "advance.zh-CN")
            .values(wechat_template_id="tpl-advance-zh")
        )
    await queued_advance(world)

    await (await dispatcher(world, fake, http)).run_once()

    [delivery] = fake.state.deliveries
    assert delivery["wechat_template_id"] == "tpl-advance-zh"
    assert delivery["wechat_data"]  # the template's keyword fields, rendered


async def test_the_sms_template_and_the_drafted_parameters_go_with_the_message(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "advance.zh-CN")
            .values(
                sms_template_code="SMS_480215301",
                sms_params={"name": "{{ candidate_name }}", "job": "{{ job_title }}"},
            )
        )
    await queued_advance(world)

    await (await dispatcher(world, fake, http)).run_once()

    [delivery] = fake.state.deliveries
    assert delivery["sms_template_code"] == "SMS_480215301"
    assert delivery["sms_params"] == {"name": "李雷", "job": "后端工程师"}


async def test_a_passing_failure_is_retried_later_on_the_same_channel(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    fake.state.scripts["wechat-user-1"] = [503]
    worker = await dispatcher(world, fake, http)

    await worker.run_once()
    [retrying] = await items(world)
    await make_due_now(world)
    await worker.run_once()
    [done] = await items(world)

    assert retrying.state is OutboxState.PENDING
    assert retrying.last_error == "http 503"
    assert retrying.next_attempt_at > utcnow() - timedelta(seconds=1)
    assert done.state is OutboxState.SENT
    assert done.attempts == 2
    assert (await the_message(world)).state is MessageState.SENT


async def test_a_permanent_failure_falls_back_to_the_next_channel(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    fake.state.scripts["wechat-user-1"] = [400]
    worker = await dispatcher(world, fake, http)

    await worker.run_once()
    await make_due_now(world)
    await worker.run_once()

    wechat, email = await items(world)
    message = await the_message(world)
    assert (wechat.channel, wechat.state) == (Channel.WECHAT, OutboxState.PERMANENT_FAILURE)
    assert (email.channel, email.state) == (Channel.EMAIL, OutboxState.SENT)
    assert message.channel is Channel.EMAIL
    assert [d["recipient"] for d in fake.state.deliveries] == ["lilei@example.com"]


async def test_when_every_channel_refuses_the_message_is_undeliverable(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    fake.state.scripts = {"wechat-user-1": [403], "lilei@example.com": [400]}
    worker = await dispatcher(world, fake, http)

    await worker.run_once()
    await make_due_now(world)
    await worker.run_once()

    assert (await the_message(world)).state is MessageState.UNDELIVERABLE
    assert worker.stats.undeliverable == 1


async def test_exhausted_retries_fall_back_and_then_fail(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world, bind=[])
    fake.state.scripts = {"lilei@example.com": [503, 503]}
    worker = await dispatcher(world, fake, http, max_attempts=2)

    for _ in range(2):
        await worker.run_once()
        await make_due_now(world)

    [item] = await items(world)
    assert item.state is OutboxState.EXHAUSTED
    assert (await the_message(world)).state is MessageState.FAILED


async def test_a_crash_after_sending_is_redelivered_and_logged_as_ambiguous(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    crashed = await dispatcher(world, fake, http, worker_id="crashed", lease=timedelta(0))
    survivor = await dispatcher(world, fake, http, worker_id="survivor")

    # The first worker claims and sends, then dies before it can record the result.
    [claimed] = await crashed.claim()
    delivery = await crashed.prepare(claimed)
    assert delivery is not None
    await crashed.senders[delivery.channel].send(delivery)
    await survivor.run_once()
    await crashed.record(claimed.item_id, Sent("late"))

    [item] = await items(world)
    assert item.ambiguous
    assert item.claimed_by == "survivor"
    assert survivor.stats.ambiguous == 1
    assert crashed.stats.lost_claims == 1
    assert fake.state.duplicates() == 1  # the one duplicate the outbox allows, and it is logged
    assert (await the_message(world)).state is MessageState.SENT


async def test_concurrent_dispatchers_never_send_one_delivery_twice(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    for n in range(1, 31):
        await world.applicant(n, bind=[Channel.WECHAT])
        await world.decide(n, "advance")
    await make_due_now(world)
    workers = [
        await dispatcher(world, fake, http, worker_id=f"w{i}", batch_size=4) for i in range(3)
    ]

    async def drain(worker: Dispatcher) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))

    assert len(fake.state.deliveries) == 30
    assert fake.state.duplicates() == 0
    assert sum(w.stats.sent for w in workers) == 30


async def test_rows_not_yet_due_are_left_alone(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    async with world.runtime.transaction() as session:
        await session.execute(
            update(OutboxItem).values(next_attempt_at=utcnow() + timedelta(hours=9))
        )

    assert await (await dispatcher(world, fake, http)).run_once() == 0
    assert fake.state.deliveries == []


async def test_delivery_receipts_settle_the_message_once(
    world: World, fake: RunningFakeChannel, http: httpx.AsyncClient
) -> None:
    await queued_advance(world)
    await (await dispatcher(world, fake, http)).run_once()
    provider_id = fake.state.deliveries[0]["id"]

    async with world.runtime.transaction() as session:
        unknown = await record_receipt(session, provider_message_id="nope", delivered=True)
        await record_receipt(session, provider_message_id=provider_id, delivered=True)
    async with world.runtime.transaction() as session:
        repeated = await record_receipt(session, provider_message_id=provider_id, delivered=False)

    message = await the_message(world)
    assert unknown is None
    assert repeated is not None
    assert message.state is MessageState.DELIVERED
    assert message.delivered_at is not None


@pytest.mark.parametrize("attempts", [0, 1, 5, 30])
def test_backoff_is_jittered_capped_and_respects_the_providers_minimum(attempts: int) -> None:
    delays = [backoff(attempts, minimum=0.5).total_seconds() for _ in range(200)]

    assert min(delays) >= 0.5
    assert max(delays) <= max(0.5, min(3600.0, 2.0**attempts))
    if attempts >= 5:
        assert len(set(delays)) > 100  # jitter spreads retries out
