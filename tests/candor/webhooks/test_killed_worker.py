"""A `candor worker` process killed while an event is on its way to the ATS: nothing is
lost, and the next worker sends the same event with the same `webhook-id`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from candor.clock import utcnow
from candor.models.webhooks import WebhookDelivery, WebhookDeliveryState
from candor.runtime import Runtime
from tests.candor.webhooks.conftest import Receiver, add_endpoint, queue, record

CANDOR = [sys.executable, "-c", "from candor.cli import main; main()"]


async def deliveries(runtime: Runtime) -> list[WebhookDelivery]:
    async with runtime.sessionmaker() as session:
        return list((await session.scalars(select(WebhookDelivery))).all())


async def test_a_worker_killed_mid_delivery_loses_nothing(
    runtime: Runtime, receiver: Receiver
) -> None:
    await add_endpoint(runtime, receiver)
    event_id = await record(runtime)
    receiver.state.hold = asyncio.Event()  # the ATS hangs: the worker dies waiting
    settings = runtime.settings
    worker = await asyncio.create_subprocess_exec(
        *CANDOR,
        "worker",
        env={
            **os.environ,
            "CANDOR_ENV": "test",
            "CANDOR_SECRET_KEY": settings.secret_key.get_secret_value(),
            "CANDOR_DATABASE_URL": settings.database_url,
            "CANDOR_REDIS_URL": settings.redis_url,
            "CANDOR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(1200):  # a worker starting on a busy 2-core machine: up to 2 min
            if receiver.state.received or worker.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert receiver.state.received, "the worker never sent the event"
    finally:
        worker.kill()  # SIGKILL: no clean-up, no last word to the database
        await worker.wait()
    [in_flight] = await deliveries(runtime)
    assert in_flight.state is WebhookDeliveryState.IN_FLIGHT  # claimed, never recorded

    # Its lease runs out (60 s; here at once), and another worker takes the delivery over.
    async with runtime.transaction() as session:
        await session.execute(
            update(WebhookDelivery).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    receiver.state.hold.set()
    receiver.state.hold = None
    survivor = queue(runtime, worker_id="survivor")
    await survivor.drain()
    await survivor.aclose()

    assert [r.msg_id for r in receiver.state.received] == [event_id, event_id]
    assert all(r.verified_by == 0 for r in receiver.state.received)
    [delivered] = await deliveries(runtime)
    assert delivered.state is WebhookDeliveryState.DELIVERED
    assert delivered.claimed_by == "survivor"
