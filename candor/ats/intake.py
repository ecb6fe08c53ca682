"""Accepting one ATS event: the single way an event enters the domain.

The API, the demo and the chat's withdrawal all call `accept_event` with a typed event. It
runs inside the caller's transaction and never commits, so an event is applied together with
its idempotency record or not at all. What happens downstream of a decided result (drafting
the candidate's message) is not the ATS's business: the caller passes a listener, and
`candor.outreach.context.ResultDrafter` is the one that drafts; a template that fails to
render never rejects the event (the draft waits for HR instead).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.ats import service
from candor.ats.errors import EventConflictError
from candor.ats.schemas import AtsEventIn, EventAccepted
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import Application, AtsEvent, Interview
from candor.models.enums import Decision

log = get_logger(__name__)


class ResultDecidedListener(Protocol):
    """Called in the event's transaction for each result it decides; raising rejects the event."""

    async def __call__(
        self,
        session: AsyncSession,
        application: Application,
        interview: Interview | None,
        decision: Decision,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def body_fingerprint(event: AtsEventIn) -> str:
    """SHA-256 of the event's canonical JSON, so key order and spacing don't make a conflict."""
    data = event.model_dump(mode="json")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def accept_event(
    session: AsyncSession,
    event: AtsEventIn,
    *,
    on_result_decided: ResultDecidedListener | None = None,
) -> IngestOutcome:
    """Apply `event` once. A replay with the same body returns the first answer unchanged.

    `on_result_decided` hears of each result the event decides, before the answer is stored.
    Without it (historical back-fills, a withdrawal) nothing downstream happens.
    """
    fingerprint = body_fingerprint(event)
    previous = await session.get(AtsEvent, event.event_id)
    if previous is not None:
        return _replay(previous, fingerprint)

    record = AtsEvent(
        event_id=event.event_id,
        event_type=event.type,
        body_sha256=fingerprint,
        response_status=0,
        response_body={},
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        # Another request with the same event id committed first; answer as it did.
        concurrent = await session.get(AtsEvent, event.event_id, populate_existing=True)
        if concurrent is None:  # pragma: no cover - the constraint said it exists
            raise
        return _replay(concurrent, fingerprint)

    applied = await service.apply_event(session, event)
    application = applied.application
    if on_result_decided is not None:
        for interview, decision in applied.decided:
            await on_result_decided(session, application, interview, decision)
    accepted = EventAccepted(
        event_id=event.event_id,
        type=event.type,
        application_code=application.code,
        application_external_id=application.external_id,
        stage=application.stage,
        status=application.status,
        result_version=application.result_version,
        processed_at=utcnow(),
    )
    record.response_status = 200
    record.response_body = accepted.model_dump(mode="json")
    await session.flush()
    log.info(
        "ats.event_ingested",
        event_id=event.event_id,
        event_type=event.type,
        application_code=application.code,
    )
    return IngestOutcome(status_code=200, body=record.response_body, replayed=False)


def _replay(previous: AtsEvent, fingerprint: str) -> IngestOutcome:
    if previous.body_sha256 != fingerprint:
        raise EventConflictError(
            f"event {previous.event_id} was already received with a different body"
        )
    return IngestOutcome(
        status_code=previous.response_status, body=previous.response_body, replayed=True
    )
