"""Erasing one candidate's personal data, crash-safe, in steps a worker can resume.

1. `start` (one transaction): fix the working set (`Subject`: the ids of the candidate's
   rows and the identifiers to look for), mark the request `erasing` (every read path hides
   the candidate from then on: `candor.privacy.queries`), and at once anonymise what finds
   or names them: the candidate row, the application codes and ids, the chat accounts
   (unbound). Unsent deliveries to them are cancelled.
2. `erase_step`, rule by rule of `personal_data.RULES`, in batches of
   `privacy_erasure_batch_rows` rows by primary key, each batch committed with the position
   it reached: a process killed half way resumes after the last committed batch, and a
   batch run twice writes the same values.
3. Redis: every key that names them, or whose value holds one of their identifiers, is
   deleted (`erase_redis`), idempotent too.
4. `finish` (one transaction): the `candidate.deleted` webhook event, the audit row, the
   request `done`, and the working set emptied.

Nothing here logs a personal value: only request ids and counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    Text,
    cast,
    delete,
    false,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.chat import limits
from candor.clock import utcnow
from candor.crypto.fields import SealedText
from candor.logging import get_logger
from candor.models import (
    Application,
    Base,
    Candidate,
    ChatDelivery,
    ChatIdentity,
    Conversation,
    DeletionRequest,
    Handoff,
    HrTask,
    JobQuestion,
    OutboxItem,
    OutreachMessage,
)
from candor.models.dialogue import ChatDeliveryState
from candor.models.outreach import OutboxState
from candor.models.privacy import DeletionState
from candor.models.webhooks import WebhookEventType
from candor.privacy.personal_data import AUDIT_OBJECTS, ERASED_TEXT, RULES, Rule, Wipe
from candor.webhooks import events as webhook_events

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from candor.runtime import Runtime

log = get_logger(__name__)

# The rules `start` runs in its own transaction: the columns that find or name the candidate.
IDENTIFYING_RULES = 3
MIN_NEEDLE_CHARS = 2
REDIS_SCAN_COUNT = 1000
ERASURE_AUDIT_OBJECT = "deletion_request"

Subject = dict[str, Any]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


async def build_subject(session: AsyncSession, candidate: Candidate) -> Subject:
    """The ids of every row that is the candidate's, and their identifiers, as of now."""
    cid = candidate.id
    applications = (
        await session.execute(
            select(Application.id, Application.code, Application.external_id).where(
                Application.candidate_id == cid
            )
        )
    ).all()
    app_ids = [a.id for a in applications]
    identities = (
        await session.execute(
            select(ChatIdentity.id, ChatIdentity.channel, ChatIdentity.external_user_id).where(
                ChatIdentity.candidate_id == cid
            )
        )
    ).all()
    identity_ids = [i.id for i in identities]
    conversations = list(
        await session.scalars(
            select(Conversation.id).where(
                or_(
                    Conversation.candidate_id == cid,
                    Conversation.chat_identity_id.in_(identity_ids),
                )
            )
        )
    )
    messages = list(
        await session.scalars(
            select(OutreachMessage.id).where(OutreachMessage.application_id.in_(app_ids))
        )
    )
    handoffs = list(
        await session.scalars(select(Handoff.id).where(Handoff.conversation_id.in_(conversations)))
    )
    questions = list(
        await session.scalars(
            select(JobQuestion.id).where(
                or_(JobQuestion.conversation_id.in_(conversations), JobQuestion.candidate_id == cid)
            )
        )
    )
    tasks = list(
        await session.scalars(
            select(HrTask.id).where(
                or_(
                    HrTask.candidate_id == cid,
                    HrTask.application_id.in_(app_ids),
                    HrTask.conversation_id.in_(conversations),
                )
            )
        )
    )
    identifiers = [candidate.name, candidate.external_id]
    if candidate.mobile:
        identifiers += [candidate.mobile, _digits(candidate.mobile)]
    if candidate.email:
        identifiers.append(candidate.email)
    identifiers += [a.code for a in applications] + [a.external_id for a in applications]
    identifiers += [i.external_user_id for i in identities]
    needles = sorted({n.strip() for n in identifiers if len(n.strip()) >= MIN_NEEDLE_CHARS})
    # Redis keys some counters by a hash of the account or application (candor.chat.limits).
    hashed = [limits.subject(i.channel.value, i.external_user_id) for i in identities]
    hashed += [limits.subject(app_id) for app_id in app_ids]
    return {
        "candidate": [cid],
        "applications": app_ids,
        "identities": identity_ids,
        "conversations": conversations,
        "messages": messages,
        "handoffs": handoffs,
        "job_questions": questions,
        "hr_tasks": tasks,
        "ordering_keys": [webhook_events.candidate_key(cid)]
        + [webhook_events.application_key(a) for a in app_ids],
        "needles": needles,
        "redis_needles": sorted(set(needles) | set(hashed)),
        # What the ATS knows them by, for the candidate.deleted event.
        "ats_refs": {
            "candidate_external_id": candidate.external_id,
            "application_external_ids": sorted(a.external_id for a in applications),
        },
    }


# -- the rules, as SQL ---------------------------------------------------------------------


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _needle_forms(needle: str) -> set[str]:
    """How a value may appear in a column's text: as written, and JSON-escaped (SQLite
    keeps JSON as text with non-ASCII escaped; PostgreSQL's jsonb::text does not)."""
    lowered = needle.lower()
    return {lowered, json.dumps(lowered)[1:-1]}


def rows_condition(rule: Rule, subject: Subject) -> ColumnElement[bool]:
    table = _table(rule.table)
    alternatives: list[ColumnElement[bool]] = []
    for column, key in rule.rows.by.items():
        ids = subject.get(key) or []
        if ids:
            alternatives.append(table.c[column].in_(ids))
    needles = subject.get("needles") or []
    for column in rule.rows.matching:
        if isinstance(table.c[column].type, SealedText):
            # Sealed at rest: only an exact value can be found (its blind index), and a
            # sealed column holds one address, never free text.
            if needles:
                alternatives.append(table.c[column].in_(needles))
            continue
        text = func.lower(cast(table.c[column], Text))
        for needle in needles:
            for form in _needle_forms(needle):
                alternatives.append(text.contains(form, autoescape=True))
    if rule.rows.audit_objects:
        for object_type, key in AUDIT_OBJECTS.items():
            ids = [str(i) for i in subject.get(key) or []]
            if ids:
                alternatives.append(
                    (table.c.object_type == object_type) & table.c.object_id.in_(ids)
                )
    if rule.rows.transcript_deliveries and subject.get("conversations"):
        messages = _table("chat_messages")
        alternatives.append(
            table.c.chat_message_id.in_(
                select(messages.c.id).where(
                    messages.c.conversation_id.in_(subject["conversations"])
                )
            )
        )
    if rule.rows.webhook_event_children and subject.get("ordering_keys"):
        events = _table("webhook_events")
        event_ids = select(events.c.id).where(events.c.ordering_key.in_(subject["ordering_keys"]))
        if rule.rows.webhook_event_children == "event_id":
            alternatives.append(table.c.event_id.in_(event_ids))
        else:
            deliveries = _table("webhook_deliveries")
            alternatives.append(
                table.c.delivery_id.in_(
                    select(deliveries.c.id).where(deliveries.c.event_id.in_(event_ids))
                )
            )
    return or_(false(), *alternatives)


def redact_needles(value: Any, needles: Sequence[str]) -> Any:
    """`value` with every occurrence of a needle (any case) replaced, keys included."""
    if isinstance(value, str):
        for needle in needles:
            value = re.sub(re.escape(needle), ERASED_TEXT, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {redact_needles(k, needles): redact_needles(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_needles(item, needles) for item in value]
    return value


def redact_strings(value: Any) -> Any:
    """`value` with every string replaced; keys, numbers and booleans stay."""
    if isinstance(value, str):
        return ERASED_TEXT if value else value
    if isinstance(value, dict):
        return {k: redact_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(item) for item in value]
    return value


_CONSTANT: dict[Wipe, Any] = {
    Wipe.EMPTY: "",
    Wipe.EMPTY_OBJECT: {},
    Wipe.EMPTY_LIST: [],
    Wipe.ERASED: ERASED_TEXT,
}
_IN_PYTHON = (Wipe.REDACT_NEEDLES, Wipe.REDACT_STRINGS, Wipe.REDACT_EVENT_DATA)


def _wiped(wipe: Wipe, value: Any, needles: Sequence[str]) -> Any:
    if wipe is Wipe.REDACT_STRINGS:
        return redact_strings(value)
    if wipe is Wipe.REDACT_EVENT_DATA and isinstance(value, dict):
        return {**value, "data": redact_strings(value.get("data"))}
    return redact_needles(value, needles)


@dataclass(frozen=True, slots=True)
class Batch:
    rows: int
    last_key: Any  # None: the rule is done


async def erase_batch(
    session: AsyncSession, rule: Rule, subject: Subject, *, after: Any, limit: int
) -> Batch:
    """Erase the next `limit` of the rule's rows after primary key `after`, in `session`."""
    table = _table(rule.table)
    (key,) = table.primary_key.columns
    python_columns = [c for c, wipe in rule.wipe.items() if wipe in _IN_PYTHON]
    query = select(key, *(table.c[c] for c in python_columns)).where(rows_condition(rule, subject))
    if after is not None:
        query = query.where(key > after)
    rows = (await session.execute(query.order_by(key).limit(limit))).all()
    if not rows:
        return Batch(0, None)
    keys = [row[0] for row in rows]
    if rule.delete:
        await session.execute(delete(table).where(key.in_(keys)))
    else:
        constants: dict[str, Any] = {}
        for column, wipe in rule.wipe.items():
            if wipe is Wipe.NULL:
                constants[column] = null()
            elif wipe is Wipe.UNIQUE:
                constants[column] = literal(rule.unique_prefix, String) + cast(key, String)
            elif wipe in _CONSTANT:
                constants[column] = _CONSTANT[wipe]
        if constants:
            await session.execute(update(table).where(key.in_(keys)).values(constants))
        if python_columns:
            needles = sorted(subject.get("needles") or [], key=len, reverse=True)
            for row in rows:
                changed = {}
                for index, column in enumerate(python_columns, start=1):
                    value = row[index]
                    if value is None:
                        continue
                    wiped = _wiped(rule.wipe[column], value, needles)
                    if wiped != value:
                        changed[column] = wiped
                if changed:
                    await session.execute(update(table).where(key == row[0]).values(changed))
    return Batch(len(rows), keys[-1] if len(rows) == limit else None)


async def _erase_rule_fully(session: AsyncSession, rule: Rule, subject: Subject) -> int:
    total, after = 0, None
    while True:
        batch = await erase_batch(session, rule, subject, after=after, limit=10_000)
        total += batch.rows
        if batch.last_key is None:
            return total
        after = batch.last_key


# -- the steps -----------------------------------------------------------------------------


async def start(session: AsyncSession, request: DeletionRequest, *, now: datetime) -> None:
    """Step 1, in the caller's transaction (the request is locked by the caller)."""
    candidate = await session.get_one(Candidate, request.candidate_id, with_for_update=True)
    subject = await build_subject(session, candidate)
    progress: dict[str, Any] = {"step": IDENTIFYING_RULES, "after": None, "rows": {}}
    for index, rule in enumerate(RULES[:IDENTIFYING_RULES]):
        progress["rows"][f"{index}:{rule.table}"] = await _erase_rule_fully(session, rule, subject)
    await session.execute(
        update(ChatIdentity)
        .where(ChatIdentity.id.in_(subject["identities"]))
        .values(candidate_id=None, bound_at=None)
        .execution_options(synchronize_session=False)
    )
    # What was waiting to be sent to them is not sent to an erased address.
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.message_id.in_(subject["messages"]),
            OutboxItem.state == OutboxState.PENDING,
        )
        .values(state=OutboxState.CANCELLED, last_error="erased")
        .execution_options(synchronize_session=False)
    )
    chat_messages = _table("chat_messages")
    await session.execute(
        update(ChatDelivery)
        .where(
            ChatDelivery.state == ChatDeliveryState.PENDING,
            or_(
                ChatDelivery.recipient.in_(subject["needles"] or [""]),
                ChatDelivery.chat_message_id.in_(
                    select(chat_messages.c.id).where(
                        chat_messages.c.conversation_id.in_(subject["conversations"])
                    )
                ),
            ),
        )
        .values(state=ChatDeliveryState.FAILED, last_error="erased")
        .execution_options(synchronize_session=False)
    )
    request.state = DeletionState.ERASING
    request.started_at = now
    request.subject = subject
    request.progress = progress
    record(
        session,
        actor="system:privacy",
        action=Action.PRIVACY_ERASURE_STARTED,
        object_type=ERASURE_AUDIT_OBJECT,
        object_id=request.id,
        details={"candidate_id": candidate.id},
        at=now,
    )
    await session.flush()
    log.info("privacy.erasure_started", request_id=request.id)


async def erase_step(session: AsyncSession, request: DeletionRequest, *, limit: int) -> bool:
    """Step 2: one batch of the current rule, in the caller's transaction. False when every
    rule is done."""
    progress = dict(request.progress)
    rows = dict(progress.get("rows") or {})
    step = int(progress.get("step", IDENTIFYING_RULES))
    if step >= len(RULES):
        return False
    rule = RULES[step]
    batch = await erase_batch(
        session, rule, request.subject, after=progress.get("after"), limit=limit
    )
    name = f"{step}:{rule.table}"
    rows[name] = int(rows.get(name, 0)) + batch.rows
    if batch.last_key is None:
        progress.update(step=step + 1, after=None)
    else:
        progress["after"] = batch.last_key
    progress["rows"] = rows
    request.progress = progress
    await session.flush()
    return True


async def erase_redis(redis: Redis, needles: Iterable[str]) -> int:
    """Step 3: delete every key whose name or value holds one of `needles`; how many."""
    wanted = [n.lower() for n in needles if n]
    if not wanted:
        return 0

    def holds(text: str) -> bool:
        lowered = text.lower()
        return any(n in lowered for n in wanted)

    deleted = 0
    async for key in redis.scan_iter(count=REDIS_SCAN_COUNT):
        name = str(key)
        if holds(name) or holds(await _redis_value(redis, name)):
            deleted += int(await redis.delete(name))
    return deleted


async def _redis_value(redis: Redis, key: str) -> str:
    kind = str(await redis.type(key))
    if kind == "string":
        return str(await redis.get(key) or "")
    if kind == "hash":
        return json.dumps(await redis.hgetall(key), ensure_ascii=False)
    if kind == "list":
        return json.dumps(await redis.lrange(key, 0, -1), ensure_ascii=False)
    if kind == "set":
        return json.dumps(sorted(await redis.smembers(key)), ensure_ascii=False)
    if kind == "zset":
        return json.dumps(await redis.zrange(key, 0, -1), ensure_ascii=False)
    return ""


async def finish(session: AsyncSession, request: DeletionRequest, *, now: datetime) -> None:
    """Step 4, in the caller's transaction: tell the ATS, audit, forget the working set."""
    refs = dict(request.subject.get("ats_refs") or {})
    webhook_events.record_event(
        session,
        WebhookEventType.CANDIDATE_DELETED,
        ordering_key=webhook_events.candidate_key(request.candidate_id),
        data={
            "candidate_external_id": refs.get("candidate_external_id"),
            "application_external_ids": refs.get("application_external_ids", []),
            "requested_at": webhook_events.iso_utc(request.requested_at),
            "deleted_at": webhook_events.iso_utc(now),
        },
        now=now,
    )
    rows = dict(request.progress.get("rows") or {})
    record(
        session,
        actor="system:privacy",
        action=Action.PRIVACY_CANDIDATE_ERASED,
        object_type=ERASURE_AUDIT_OBJECT,
        object_id=request.id,
        details={"candidate_id": request.candidate_id, "rows": rows},
        at=now,
    )
    request.state = DeletionState.DONE
    request.completed_at = now
    request.subject = {}
    request.legal_hold_reason = None
    await session.flush()
    log.info("privacy.candidate_erased", request_id=request.id, rows=sum(rows.values()))


async def erase(runtime: Runtime, request_id: int) -> bool:
    """Carry request `request_id` through every step that is left (from wherever a killed
    process left it). False if it is not due or not erasing."""
    from candor.privacy.deletion import lock_request, ready_to_erase

    now = utcnow()
    async with runtime.transaction() as session:
        request = await lock_request(session, request_id)
        if request is None:
            return False
        if request.state is DeletionState.PENDING:
            if not ready_to_erase(request, now):
                return False
            await start(session, request, now=now)
        elif request.state is not DeletionState.ERASING:
            return False
    limit = runtime.settings.privacy_erasure_batch_rows
    while True:
        async with runtime.transaction() as session:
            request = await lock_request(session, request_id)
            assert request is not None
            if request.state is not DeletionState.ERASING:
                return False
            if not await erase_step(session, request, limit=limit):
                needles = list(request.subject.get("redis_needles") or [])
                break
    deleted = await erase_redis(runtime.redis, needles)
    log.info("privacy.redis_erased", request_id=request_id, keys=deleted)
    async with runtime.transaction() as session:
        request = await lock_request(session, request_id)
        assert request is not None
        if request.state is DeletionState.ERASING:
            await finish(session, request, now=utcnow())
    return True
