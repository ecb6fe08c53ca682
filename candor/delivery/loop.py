"""The one delivery path: claim committed deliveries, send them with a timeout, record.

Everything Candor sends to a person goes through here, whatever decided it: result messages
(the outreach outbox), chat messages people wrote and one-time binding codes
(`chat_deliveries`), and HR's notices (`sla_notifications`). Each table is a
`DeliveryQueue`, which owns its claim (one short transaction with a lease, so any number of
workers take disjoint rows and a dead worker's rows come back) and its recording (retries,
fallbacks, state changes). This module owns what they share:

- the senders, built once per process by the composition root and passed in;
- a bound on sends in flight, shared by every queue;
- a timeout on every send, so a hung provider delays only its own row;
- one task per queue, so a backlog of results never holds up a recruiter's chat reply.

Nothing is sent before commit: a queue only sees rows whose transaction committed, and a send
happens with no transaction open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from candor.delivery.ports import ChannelSender, Delivery, Permanent, RetryAfter, SendResult
from candor.logging import get_logger
from candor.models.enums import Channel

log = get_logger(__name__)

UNREACHABLE = "recipient no longer reachable"
TIMED_OUT = "send timed out"
DEFAULT_SEND_TIMEOUT = 30.0


class Pending(Protocol):
    """One claimed row, ready to send."""

    @property
    def delivery(self) -> Delivery | None:
        """What to send; None when the recipient is no longer reachable on this channel."""
        ...


P = TypeVar("P", bound=Pending)
P_contra = TypeVar("P_contra", contravariant=True)


class DeliveryQueue(Protocol[P]):
    name: str
    batch_size: int

    async def claim_due(self) -> Sequence[P]:
        """Claim up to `batch_size` due rows in one short transaction and commit the claim."""
        ...

    async def record_outcomes(self, outcomes: Sequence[tuple[P, SendResult]]) -> None:
        """Record a batch's outcomes. A row whose send crashed is left out: its lease
        expires and a later claim sends it again."""
        ...


class OwnSender(Protocol[P_contra]):
    """`send_one` of a queue that sends through its own port rather than a channel's
    `ChannelSender` (its rows' `delivery` is then unused)."""

    def __call__(self, pending: P_contra, /) -> Awaitable[SendResult]: ...


class Sending:
    """The senders of this process, how many sends may be in flight, and how long one may
    take."""

    def __init__(
        self,
        senders: Mapping[Channel, ChannelSender],
        *,
        concurrency: int,
        timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        self.senders = senders
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)

    async def send(self, delivery: Delivery | None) -> SendResult | None:
        """The outcome of one send; None when the sender itself crashed."""
        if delivery is None:
            return Permanent(UNREACHABLE)
        sender = self.senders.get(delivery.channel)
        if sender is None:
            return Permanent(f"no sender for {delivery.channel.value}")
        return await self.run(
            lambda: sender.send(delivery),
            channel=delivery.channel.value,
            idempotency_key=delivery.idempotency_key,
        )

    async def run(
        self, send: Callable[[], Awaitable[SendResult]], **context: str
    ) -> SendResult | None:
        """Any send, within the shared bound and the timeout; None when it crashed."""
        async with self._slots:
            try:
                return await asyncio.wait_for(send(), timeout=self.timeout)
            except TimeoutError:
                return RetryAfter(5.0, TIMED_OUT)
            except Exception:
                log.exception("delivery.send_crashed", **context)
                return None


async def run_round(queue: DeliveryQueue[P], sending: Sending) -> int:
    """Claim one batch of `queue`, send it concurrently, record the outcomes; returns how
    many rows were claimed."""
    pending = await queue.claim_due()
    if not pending:
        return 0
    own: OwnSender[P] | None = getattr(queue, "send_one", None)
    if own is not None:  # a queue with its own port (HR's approval cards), same bounds
        results = await asyncio.gather(
            *(sending.run(partial(own, p), queue=queue.name) for p in pending)
        )
    else:
        results = await asyncio.gather(*(sending.send(p.delivery) for p in pending))
    await queue.record_outcomes(
        [(p, result) for p, result in zip(pending, results, strict=True) if result is not None]
    )
    return len(pending)


class DeliveryLoop:
    """Runs every queue until stopped, each in its own task over the shared `Sending`."""

    def __init__(
        self, sending: Sending, queues: Sequence[DeliveryQueue[Any]], *, idle_wait: float = 0.5
    ) -> None:
        self.sending = sending
        self.queues = queues
        self.idle_wait = idle_wait

    async def run_once(self) -> int:
        """One round of every queue, one after another (commands and tests)."""
        handled = 0
        for queue in self.queues:
            handled += await run_round(queue, self.sending)
        return handled

    async def drain(self) -> int:
        """Rounds until no queue has anything due (`candor worker --once`)."""
        handled = 0
        while claimed := await self.run_once():
            handled += claimed
        return handled

    async def run_forever(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._run_queue(queue, stop) for queue in self.queues))

    async def _run_queue(self, queue: DeliveryQueue[Any], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await run_round(queue, self.sending)
            except Exception:
                log.exception("delivery.round_failed", queue=queue.name)
                claimed = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
            if claimed < queue.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.idle_wait)
