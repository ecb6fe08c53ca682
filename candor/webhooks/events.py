"""Recording webhook events in the caller's transaction, beside the change they report.

Nothing is sent from here: the event row commits (or rolls back) with the domain change,
and the worker (`candor.webhooks.queue`) fans it out to the subscribed endpoints and
delivers it after commit. Each payload carries the ids the ATS knows (the application's
external id and code, the candidate's and job's external ids), never only Candor's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.logging import get_logger
from candor.models import Application, Candidate, Job
from candor.models.webhooks import WebhookEvent, WebhookEventType

log = get_logger(__name__)

PAYLOAD_VERSION = 1


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, to the millisecond: the one time format of the payloads."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_event(
    session: AsyncSession,
    event_type: WebhookEventType,
    *,
    ordering_key: str,
    data: dict[str, Any],
    now: datetime,
) -> WebhookEvent:
    """Add one event to the caller's transaction; it is delivered only once that commits."""
    public_id = new_event_id()
    event = WebhookEvent(
        public_id=public_id,
        type=event_type,
        ordering_key=ordering_key,
        payload={
            "type": event_type.value,
            "version": PAYLOAD_VERSION,
            "id": public_id,
            "occurred_at": iso_utc(now),
            "data": _storable(data),
        },
        occurred_at=now,
        fanned_out=False,
    )
    session.add(event)
    log.debug("webhooks.event_recorded", type=event_type.value, ordering_key=ordering_key)
    return event


def _storable(value: Any) -> Any:
    """`value` without NUL characters, which PostgreSQL's JSONB cannot hold: a candidate's
    text may carry one (the transcript drops it too), and the event must not abort the
    chat turn that records it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def application_key(application_id: int) -> str:
    return f"application:{application_id}"


def candidate_key(candidate_id: int) -> str:
    return f"candidate:{candidate_id}"


async def application_refs(
    session: AsyncSession, application_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """What the ATS knows each application by, in one query."""
    rows = await session.execute(
        select(
            Application.id,
            Application.code,
            Application.external_id,
            Candidate.external_id.label("candidate_external_id"),
            Job.external_id.label("job_external_id"),
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Job, Job.id == Application.job_id)
        .where(Application.id.in_(sorted(set(application_ids))))
    )
    return {
        row.id: {
            "application_code": row.code,
            "application_external_id": row.external_id,
            "candidate_external_id": row.candidate_external_id,
            "job_external_id": row.job_external_id,
        }
        for row in rows
    }


async def record_for_application(
    session: AsyncSession,
    event_type: WebhookEventType,
    application_id: int,
    data: dict[str, Any],
    *,
    now: datetime,
) -> WebhookEvent:
    refs = (await application_refs(session, [application_id]))[application_id]
    return record_event(
        session,
        event_type,
        ordering_key=application_key(application_id),
        data={**refs, **data},
        now=now,
    )


async def record_for_candidate(
    session: AsyncSession,
    event_type: WebhookEventType,
    candidate_id: int,
    application_id: int | None,
    data: dict[str, Any],
    *,
    now: datetime,
) -> WebhookEvent:
    """An event about the candidate: ordered with the application it concerns when there is
    one (the conversation's), else with the candidate's other such events."""
    if application_id is not None:
        return await record_for_application(session, event_type, application_id, data, now=now)
    candidate_external_id = await session.scalar(
        select(Candidate.external_id).where(Candidate.id == candidate_id)
    )
    return record_event(
        session,
        event_type,
        ordering_key=candidate_key(candidate_id),
        data={
            "application_code": None,
            "application_external_id": None,
            "candidate_external_id": candidate_external_id,
            "job_external_id": None,
            **data,
        },
        now=now,
    )


async def record_message_events(
    session: AsyncSession,
    event_type: WebhookEventType,
    messages: Sequence[tuple[int, int, dict[str, Any]]],
    *,
    now: datetime,
) -> None:
    """One event per result message, given as (message id, application id, details): the
    set-based path of the dispatcher records a batch with one query."""
    if not messages:
        return
    refs = await application_refs(session, [application_id for _, application_id, _ in messages])
    for message_id, application_id, details in messages:
        record_event(
            session,
            event_type,
            ordering_key=application_key(application_id),
            data={**refs[application_id], "message_id": message_id, **details},
            now=now,
        )
