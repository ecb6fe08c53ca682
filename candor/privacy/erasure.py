"""Erasing one candidate's personal data, crash-safe, in steps a worker can resume.

1. `start` (one transaction): lock the candidate and their chat accounts (a chat answer in
   flight commits first or is dropped, `bot.conversation`), fix the working set (`Subject`:
   the ids of the candidate's rows and the identifiers to look for), mark the request
   `erasing` (every read path hides the candidate from then on: `candor.privacy.queries`),
   and at once anonymise what finds or names them (the candidate row, the application codes,
   the chat accounts, unbound; the ATS ids become tombstones), delete what could still reach
   or bind them (binding links and codes, export copies), close their open work (hand-offs,
   HR tasks, job questions, HR cards) and end what was not sent (drafts, queued messages,
   deliveries, webhook events).
2. `erase_step`, rule by rule of `personal_data.RULES`, in batches of
   `privacy_erasure_batch_rows` rows by primary key, each batch committed with the position
   it reached: a process killed half way resumes after the last committed batch, and a
   batch run twice writes the same values.
3. Redis: the keys named by one of their exact identifiers or hashes are deleted
   (`erase_redis`), idempotent too.
4. `finish` (one transaction): the rules by id once more (rows another process wrote after
   their step), the `candidate.deleted` webhook event, the audit row, the request `done`,
   and the working set emptied.

Nothing here logs a personal value: only request ids and counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
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
    HrCard,
    HrTask,
    JobQuestion,
    OutboxItem,
    OutreachMessage,
    WebhookDelivery,
    WebhookEvent,
)
from candor.models.dialogue import ChatDeliveryState, JobQuestionState
from candor.models.enums import HrCardState
from candor.models.outreach import MessageState, OutboxState
from candor.models.privacy import DeletionState
from candor.models.scheduling import (
    BookingState,
    InterviewBooking,
    InterviewSlot,
    InvitationState,
    SchedulingInvitation,
)
from candor.models.webhooks import WebhookDeliveryState, WebhookEventType
from candor.outreach.service import transition
from candor.privacy.personal_data import AUDIT_OBJECTS, ERASED_TEXT, RULES, Rule, Wipe
from candor.privacy.tombstones import tombstone
from candor.webhooks import events as webhook_events

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from candor.runtime import Runtime

log = get_logger(__name__)

# The rules `start` runs in its own transaction: the columns that find or name the
# candidate, and the links and codes that could still reach or bind them.
START_RULES = 7
# An identifier is found as a whole value (a JSON string equal to it, a sealed column's exact
# value) from this length; inside free text only from the longer one, and as a whole token:
# a short ATS id ("42") or a 2-character name is a substring of countless other values.
MIN_VALUE_CHARS = 2
MIN_TEXT_NEEDLE_CHARS = 8
REDIS_SCAN_COUNT = 1000
# Redis key families: keys are deleted only when a ':'-separated part of their name is one
# of the candidate's exact identifiers or hashes; these locks are never theirs to delete (a
# chat lock is held by a message being handled, and expires by itself).
REDIS_KEPT_PREFIXES = ("candor:chat:lock:", "candor:job-lock:")
# The WeChat callback's de-duplication values hold the passive answer it gave (the
# candidate's name, a link) under the provider's message id for an hour: the one family
# whose values are read.
REDIS_ANSWER_FAMILIES = ("wechat:*:inbound:*",)
ERASURE_AUDIT_OBJECT = "deletion_request"
ERASURE_ACTOR = "system:privacy"
SUPERSEDED_BY_DELETION = "superseded by candidate.deleted"
_DRAFT_STATES = (MessageState.PENDING_APPROVAL, MessageState.NEEDS_ATTENTION)

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
    bookings = list(
        await session.scalars(
            select(InterviewBooking.public_id).where(InterviewBooking.application_id.in_(app_ids))
        )
    )
    # Their name is not among the identifiers looked for in other rows: a name is not
    # unique, and the rows that are theirs are found by id.
    identifiers = [candidate.external_id]
    if candidate.mobile:
        identifiers += [candidate.mobile, _digits(candidate.mobile)]
    if candidate.email:
        identifiers.append(candidate.email)
    identifiers += [a.code for a in applications] + [a.external_id for a in applications]
    identifiers += [i.external_user_id for i in identities]
    values = sorted({n.strip() for n in identifiers if len(n.strip()) >= MIN_VALUE_CHARS})
    text_needles = [v for v in values if len(v) >= MIN_TEXT_NEEDLE_CHARS]
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
        "bookings": bookings,
        "ordering_keys": [webhook_events.candidate_key(cid)]
        + [webhook_events.application_key(a) for a in app_ids],
        "values": values,
        "text_needles": text_needles,
        "redis_keys": sorted(set(values) | set(hashed)),
        "redis_answer_needles": sorted({*text_needles, candidate.name.strip()} - {""}),
        # What the ATS knows them by, for the candidate.deleted event.
        "ats_refs": {
            "candidate_external_id": candidate.external_id,
            "application_external_ids": sorted(a.external_id for a in applications),
        },
    }


# -- the rules, as SQL ---------------------------------------------------------------------


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _needle_forms(needle: str, *, quoted: bool) -> set[str]:
    """How a value may appear in a column's text: as written, and JSON-escaped (SQLite
    keeps JSON as text with non-ASCII escaped; PostgreSQL's jsonb::text does not); `quoted`:
    as a whole JSON string."""
    lowered = needle.lower()
    forms = {json.dumps(lowered), json.dumps(lowered, ensure_ascii=False)}
    return forms if quoted else {lowered} | {form[1:-1] for form in forms}


def rows_condition(rule: Rule, subject: Subject) -> ColumnElement[bool]:
    table = _table(rule.table)
    alternatives: list[ColumnElement[bool]] = []
    for column, key in rule.rows.by.items():
        ids = subject.get(key) or []
        if ids:
            alternatives.append(table.c[column].in_(ids))
    values = subject.get("values") or []
    text_needles = subject.get("text_needles") or []
    for column in rule.rows.matching:
        if isinstance(table.c[column].type, SealedText):
            # Sealed at rest: only an exact value can be found (its blind index), and a
            # sealed column holds one address, never free text.
            if values:
                alternatives.append(table.c[column].in_(values))
            continue
        # A superset, narrowed in Python (`Redaction`): what is rewritten is only a whole
        # JSON string equal to a value, or a long identifier standing as a whole token.
        text = func.lower(cast(table.c[column], Text))
        forms = {f for v in values for f in _needle_forms(v, quoted=True)}
        forms |= {f for n in text_needles for f in _needle_forms(n, quoted=False)}
        for form in sorted(forms):
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


@dataclass(frozen=True, slots=True)
class Redaction:
    """What of the candidate's identifiers is rewritten in a row that is not theirs: a string
    equal to one of `values` (any case) whole, and each of `text_needles` where it stands as
    a whole token (so "X-5" is not found in "X-50", nor "a@b.com" in "xa@b.com")."""

    values: frozenset[str]
    tokens: re.Pattern[str] | None

    @classmethod
    def of(cls, subject: Subject) -> Redaction:
        needles = sorted(subject.get("text_needles") or [], key=len, reverse=True)
        tokens = (
            re.compile(
                r"(?<![A-Za-z0-9_.@+\-])(?:"
                + "|".join(re.escape(n) for n in needles)
                + r")(?![A-Za-z0-9_@]|[.+\-][A-Za-z0-9])",
                re.IGNORECASE,
            )
            if needles
            else None
        )
        return cls(frozenset(v.casefold() for v in subject.get("values") or []), tokens)

    def apply(self, value: Any) -> Any:
        """`value` with the identifiers replaced, keys of objects included."""
        if isinstance(value, str):
            if value.strip().casefold() in self.values:
                return ERASED_TEXT
            return self.tokens.sub(ERASED_TEXT, value) if self.tokens is not None else value
        if isinstance(value, dict):
            return {self.apply(k): self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
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
_IN_PYTHON = (Wipe.REDACT_NEEDLES, Wipe.REDACT_STRINGS, Wipe.REDACT_EVENT_DATA, Wipe.TOMBSTONE)


def _wiped(wipe: Wipe, value: Any, redaction: Redaction, column: str) -> Any:
    if wipe is Wipe.REDACT_STRINGS:
        return redact_strings(value)
    if wipe is Wipe.REDACT_EVENT_DATA and isinstance(value, dict):
        return {**value, "data": redact_strings(value.get("data"))}
    if wipe is Wipe.TOMBSTONE:
        return tombstone(column, str(value))
    return redaction.apply(value)


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
            redaction = Redaction.of(subject)
            for row in rows:
                changed = {}
                for index, column in enumerate(python_columns, start=1):
                    value = row[index]
                    if value is None:
                        continue
                    wiped = _wiped(rule.wipe[column], value, redaction, f"{rule.table}.{column}")
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
    # A chat message's answer (bot.conversation) re-reads its account under this lock: it
    # either commits before we go on, or finds the account unbound and is dropped.
    await session.execute(
        select(ChatIdentity.id).where(ChatIdentity.candidate_id == candidate.id).with_for_update()
    )
    subject = await build_subject(session, candidate)
    progress: dict[str, Any] = {"step": START_RULES, "after": None, "rows": {}}
    for index, rule in enumerate(RULES[:START_RULES]):
        progress["rows"][f"{index}:{rule.table}"] = await _erase_rule_fully(session, rule, subject)
    await session.execute(
        update(ChatIdentity)
        .where(ChatIdentity.id.in_(subject["identities"]))
        .values(candidate_id=None, bound_at=None)
        .execution_options(synchronize_session=False)
    )
    await _close_open_work(session, subject, now=now)
    await _cancel_unsent(session, subject, now=now)
    request.state = DeletionState.ERASING
    request.started_at = now
    request.subject = subject
    request.progress = progress
    record(
        session,
        actor=ERASURE_ACTOR,
        action=Action.PRIVACY_ERASURE_STARTED,
        object_type=ERASURE_AUDIT_OBJECT,
        object_id=request.id,
        details={"candidate_id": candidate.id},
        at=now,
    )
    await session.flush()
    log.info("privacy.erasure_started", request_id=request.id)


async def _close_open_work(session: AsyncSession, subject: Subject, *, now: datetime) -> None:
    """Nobody could close an erased candidate's hand-off, task or question (their read paths
    hide the candidate), so the erasure closes them, and their HR cards with them. Their
    invitations to book close too (the booking link stops working at once), their holds and
    the seats of interviews still ahead are given back; an interview that has begun stays
    booked, for its attendance and the KPIs."""
    # The invitations first, in id order: the lock every booking change takes first.
    await session.execute(
        select(SchedulingInvitation.id)
        .where(SchedulingInvitation.application_id.in_(subject["applications"]))
        .order_by(SchedulingInvitation.id)
        .with_for_update()
    )
    ahead = select(InterviewSlot.id).where(InterviewSlot.starts_at > now)
    await session.execute(
        update(InterviewBooking)
        .where(
            InterviewBooking.application_id.in_(subject["applications"]),
            (InterviewBooking.state == BookingState.HELD)
            | (
                (InterviewBooking.state == BookingState.CONFIRMED)
                & InterviewBooking.slot_id.in_(ahead)
            ),
        )
        .values(state=BookingState.CANCELLED, ended_at=now, ended_by=ERASURE_ACTOR)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(SchedulingInvitation)
        .where(
            SchedulingInvitation.application_id.in_(subject["applications"]),
            SchedulingInvitation.state != InvitationState.CLOSED,
        )
        .values(state=InvitationState.CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Handoff)
        .where(Handoff.id.in_(subject["handoffs"]), Handoff.closed_at.is_(None))
        .values(closed_at=now, closed_by=ERASURE_ACTOR)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(HrTask)
        .where(HrTask.id.in_(subject["hr_tasks"]), HrTask.done_at.is_(None))
        .values(done_at=now, done_by=ERASURE_ACTOR)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(JobQuestion)
        .where(
            JobQuestion.id.in_(subject["job_questions"]),
            JobQuestion.state == JobQuestionState.PENDING,
        )
        .values(state=JobQuestionState.DISMISSED, decided_by=ERASURE_ACTOR, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(HrCard)
        .where(
            or_(
                HrCard.handoff_id.in_(subject["handoffs"]),
                HrCard.message_id.in_(subject["messages"]),
            ),
            HrCard.state == HrCardState.OPEN,
        )
        .values(
            state=HrCardState.DECIDED,
            decision="erased",
            decided_by=ERASURE_ACTOR,
            decided_at=now,
            reason_wanted_until=None,
            update_pending=HrCard.sent_at.is_not(None),
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )


async def _cancel_unsent(session: AsyncSession, subject: Subject, *, now: datetime) -> None:
    """Nothing waiting is sent to them, nor about them: drafts are rejected and approved or
    queued messages become undeliverable (each with its transition row), their unsent
    deliveries fail, and their webhook events not yet delivered are superseded by the
    `candidate.deleted` event (their payloads are about to be redacted)."""
    unsent = await session.scalars(
        select(OutreachMessage)
        .where(
            OutreachMessage.id.in_(subject["messages"]),
            OutreachMessage.state.in_(
                (
                    *_DRAFT_STATES,
                    MessageState.APPROVED,
                    MessageState.EDITED_AND_APPROVED,
                    MessageState.QUEUED,
                )
            ),
        )
        .with_for_update()
    )
    for message in unsent:
        to_state = (
            MessageState.REJECTED if message.state in _DRAFT_STATES else MessageState.UNDELIVERABLE
        )
        transition(session, message, to_state, actor=ERASURE_ACTOR, reason="erased", at=now)
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
                ChatDelivery.recipient.in_(subject["values"] or [""]),
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
    await session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.ordering_key.in_(subject["ordering_keys"]),
            WebhookEvent.fanned_out.is_(False),
        )
        .values(fanned_out=True)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.ordering_key.in_(subject["ordering_keys"]),
            WebhookDelivery.state == WebhookDeliveryState.PENDING,
        )
        .values(state=WebhookDeliveryState.FAILED, last_error=SUPERSEDED_BY_DELETION)
        .execution_options(synchronize_session=False)
    )


async def erase_step(session: AsyncSession, request: DeletionRequest, *, limit: int) -> bool:
    """Step 2: one batch of the current rule, in the caller's transaction. False when every
    rule is done."""
    progress = dict(request.progress)
    rows = dict(progress.get("rows") or {})
    step = int(progress.get("step", START_RULES))
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


async def erase_redis(
    redis: Redis, identifiers: Iterable[str], answer_needles: Iterable[str]
) -> int:
    """Step 3: delete the keys named by one of `identifiers` (their exact values and hashes:
    a ':'-separated part of the key's name equal to one), and the de-duplicated answers
    (`REDIS_ANSWER_FAMILIES`) that quote one of `answer_needles`; how many. Only keys
    matched by name are read, never the whole keyspace's values."""
    deleted = 0
    for identifier in sorted({i for i in identifiers if i}):
        async for key in redis.scan_iter(
            match=f"*{_glob_escape(identifier)}*", count=REDIS_SCAN_COUNT
        ):
            name = str(key)
            if name.startswith(REDIS_KEPT_PREFIXES) or identifier not in name.split(":"):
                continue
            deleted += int(await redis.delete(name))
    wanted = [n.casefold() for n in answer_needles if n]
    if wanted:
        for family in REDIS_ANSWER_FAMILIES:
            async for key in redis.scan_iter(match=family, count=REDIS_SCAN_COUNT):
                value = await redis.get(key) if str(await redis.type(key)) == "string" else None
                if value is not None and any(n in str(value).casefold() for n in wanted):
                    deleted += int(await redis.delete(key))
    return deleted


def _glob_escape(value: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", value)


async def finish(session: AsyncSession, request: DeletionRequest, *, now: datetime) -> None:
    """Step 4, in the caller's transaction: erase again, by id, what was written for the
    candidate after its rule had passed (the Rasa action server writes in its own
    transactions), then tell the ATS, audit, forget the working set."""
    rows = dict(request.progress.get("rows") or {})
    for index, rule in enumerate(RULES[START_RULES:], start=START_RULES):
        if rule.rows.by and not rule.rows.matching:
            late = await _erase_rule_fully(session, rule, request.subject)
            name = f"{index}:{rule.table}"
            rows[name] = int(rows.get(name, 0)) + late
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
    record(
        session,
        actor=ERASURE_ACTOR,
        action=Action.PRIVACY_CANDIDATE_ERASED,
        object_type=ERASURE_AUDIT_OBJECT,
        object_id=request.id,
        details={"candidate_id": request.candidate_id, "rows": rows},
        at=now,
    )
    request.state = DeletionState.DONE
    request.completed_at = now
    request.progress = {**request.progress, "rows": rows}
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
                identifiers = list(request.subject.get("redis_keys") or [])
                answer_needles = list(request.subject.get("redis_answer_needles") or [])
                break
    deleted = await erase_redis(runtime.redis, identifiers, answer_needles)
    log.info("privacy.redis_erased", request_id=request_id, keys=deleted)
    async with runtime.transaction() as session:
        request = await lock_request(session, request_id)
        assert request is not None
        if request.state is DeletionState.ERASING:
            await finish(session, request, now=utcnow())
    return True
