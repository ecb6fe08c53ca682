"""Misunderstood messages: queued by the dialogue engine, read team-scoped, reviewed by HR.

`record_misunderstood` runs in the chat turn's transaction and only flushes. A message
enters the queue when the NLU fell back on it, when it was handed off after being misread,
or when a complaint followed it; the same inbound message is queued once, collecting its
reasons. Its text is masked before it is stored (`candor.nlu_review.masking`).

A reviewer sees the items of conversations of their teams (the chat side's one rule,
`candor.chat.teams`: the team of the application the conversation is about, or of its open
hand-off's; admins see all) and gives each a verdict: the
right intent (one of `domain.yml`'s), "new intent needed", or dismissed. Each verdict is
written with its audit row in the request's transaction; a second verdict is a 409 (a
verdict is taken back with `reopen`, audited too).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit.service import Action, record
from candor.auth.principals import HRPrincipal
from candor.auth.scope import Query, visible_teams
from candor.chat.teams import message_id_condition, scoped_conversations, team_of_conversation
from candor.dialogue.hr import visible_conversation
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import Candidate, ChatMessage, Conversation, MisreadMessage
from candor.models.chat import Direction
from candor.models.enums import Channel
from candor.models.nlu_review import MisreadReason, ReviewState
from candor.nlu_review.evaluation import BlindSets
from candor.nlu_review.export import UntrainableTextError, training_text
from candor.nlu_review.masking import mask_message
from nlu.evaluation import overlap_key
from nlu.project import FALLBACK_INTENT, RasaProject

log = get_logger(__name__)

QUEUE_LIMIT = 200
MAX_TEXT = 2000
MAX_NOTE = 500
RANKING_KEPT = 5
RECENT_INBOUND = 20  # how far back the queued text is looked for among the inbound messages
# A pressed button's `/intent{...}` payload: read as it is, never by the NLU.
_PAYLOAD = re.compile(r"^/[A-Za-z_][\w-]*(\{.*\})?$", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ReviewError(CandorError, ValueError):
    """A verdict that cannot be recorded as asked; the message says why (422)."""

    code = "invalid_review"
    http_status = 422


class AlreadyReviewedError(ReviewError):
    code = "already_reviewed"
    http_status = 409


class BlindSetTextError(ReviewError):
    """The text is in a blind evaluation set, which is never trained on."""

    code = "blind_set_text"


class Verdict(StrEnum):
    APPROVE = "approve"
    NEW_INTENT = "new_intent"
    DISMISS = "dismiss"


# -- the queue ---------------------------------------------------------------------------


async def record_misunderstood(
    session: AsyncSession,
    *,
    conversation_id: int,
    text: str,
    reason: str,
    intent: str | None,
    confidence: float | None,
    ranking: list[dict[str, Any]],
    now: datetime,
) -> None:
    """Queue a misunderstood inbound message for review (once; a later reason is added to
    the queued item). `reason` is a `MisreadReason` value; `intent`, `confidence` and
    `ranking` (`[{"name", "confidence"}]`) are what the NLU made of the message. An empty
    text or a button's payload is not queued. Flushes; the caller commits."""
    why = MisreadReason(reason)
    raw = _plain(text)
    if not raw or _PAYLOAD.match(raw):
        return
    message_id = await _inbound_message(session, conversation_id, raw)
    if message_id is not None:
        key = f"message:{message_id}"
    else:
        digest = hashlib.sha256((overlap_key(raw) or raw).encode()).hexdigest()[:40]
        key = f"text:{conversation_id}:{digest}"
    existing = await _by_key(session, key)
    if existing is not None:
        _add_reason(existing, why)
        await session.flush()
        return
    item = MisreadMessage(
        dedupe_key=key,
        conversation_id=conversation_id,
        chat_message_id=message_id,
        text=mask_message(raw, names=await _candidate_names(session, conversation_id))[:MAX_TEXT],
        reasons=[why.value],
        predicted_intent=intent[:64] if intent else None,
        confidence=float(confidence) if confidence is not None else None,
        ranking=_clean_ranking(ranking),
        received_at=now,
        state=ReviewState.PENDING,
    )
    try:
        async with session.begin_nested():
            session.add(item)
    except IntegrityError:  # queued meanwhile by another transaction
        existing = await _by_key(session, key)
        if existing is None:
            raise
        _add_reason(existing, why)
        await session.flush()
        return
    log.info(
        "nlu_review.queued", item_id=item.id, conversation_id=conversation_id, reason=why.value
    )


async def _inbound_message(session: AsyncSession, conversation_id: int, text: str) -> int | None:
    """The conversation's latest inbound message with this text, if recorded."""
    rows = await session.execute(
        select(ChatMessage.id, ChatMessage.text)
        .where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.direction == Direction.INBOUND,
        )
        .order_by(ChatMessage.id.desc())
        .limit(RECENT_INBOUND)
    )
    return next((row.id for row in rows if _plain(row.text or "") == text), None)


def _plain(text: str) -> str:
    """Without control characters (PostgreSQL's text cannot even hold NUL), trimmed."""
    return _CONTROL.sub("", text).strip()


async def _by_key(session: AsyncSession, key: str) -> MisreadMessage | None:
    found: MisreadMessage | None = await session.scalar(
        select(MisreadMessage).where(MisreadMessage.dedupe_key == key)
    )
    return found


def _add_reason(item: MisreadMessage, reason: MisreadReason) -> None:
    if reason.value not in item.reasons:
        item.reasons = [*item.reasons, reason.value]  # a new list, so the JSON column sees it


async def _candidate_names(session: AsyncSession, conversation_id: int) -> list[str]:
    name = await session.scalar(
        select(Candidate.name)
        .join(Conversation, Conversation.candidate_id == Candidate.id)
        .where(Conversation.id == conversation_id)
    )
    return [name] if name else []


def _clean_ranking(ranking: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for entry in ranking:
        name, confidence = entry.get("name"), entry.get("confidence")
        if isinstance(name, str) and isinstance(confidence, int | float):
            kept.append({"name": name[:64], "confidence": round(float(confidence), 6)})
        if len(kept) == RANKING_KEPT:
            break
    return kept


# -- what a reviewer sees ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    item: MisreadMessage
    channel: Channel
    candidate_id: int | None

    @property
    def best_guess(self) -> str | None:
        """The likeliest real intent, to preselect in the form."""
        return next(
            (str(s["name"]) for s in self.item.ranking if s.get("name") != FALLBACK_INTENT),
            None,
        )


async def review_queue(
    session: AsyncSession,
    principal: HRPrincipal,
    *,
    state: ReviewState = ReviewState.PENDING,
    reason: MisreadReason | None = None,
    limit: int = QUEUE_LIMIT,
) -> list[QueueRow]:
    """The items in `state` of the principal's teams' conversations, newest first."""
    query = (
        select(MisreadMessage, Conversation.channel, Conversation.candidate_id)
        .join(Conversation, Conversation.id == MisreadMessage.conversation_id)
        .where(MisreadMessage.state == state)
        .order_by(MisreadMessage.received_at.desc(), MisreadMessage.id.desc())
        .limit(limit)
    )
    query = _readable(scoped_conversations(query, visible_teams(principal)), principal)
    if reason is not None:
        # The JSON list as text, the same on both databases: ["fallback", ...].
        query = query.where(cast(MisreadMessage.reasons, String).contains(f'"{reason.value}"'))
    rows = (await session.execute(query)).all()
    return [QueueRow(item, channel, candidate_id) for item, channel, candidate_id in rows]


async def queue_counts(session: AsyncSession, principal: HRPrincipal) -> dict[ReviewState, int]:
    query = (
        select(MisreadMessage.state, func.count())
        .join(Conversation, Conversation.id == MisreadMessage.conversation_id)
        .group_by(MisreadMessage.state)
    )
    query = _readable(scoped_conversations(query, visible_teams(principal)), principal)
    counts = dict.fromkeys(ReviewState, 0)
    for state, count in (await session.execute(query)).all():
        counts[state] = int(count)
    return counts


async def visible_item(
    session: AsyncSession, principal: HRPrincipal, item_id: int
) -> MisreadMessage | None:
    """The item, locked for a verdict, if its conversation is the principal's to see."""
    item = await session.get(MisreadMessage, item_id, with_for_update=True)
    if item is None:
        return None
    if await visible_conversation(session, principal, item.conversation_id) is None:
        return None
    readable = message_id_condition(item.chat_message_id, visible_teams(principal))
    if readable is not None and not await session.scalar(select(readable)):
        return None
    return item


def _readable(query: Query, principal: HRPrincipal) -> Query:
    """`query` (over `MisreadMessage`) without the items whose message is about another
    team's application: the chat side's rule for messages (`candor.chat.teams`)."""
    condition = message_id_condition(MisreadMessage.chat_message_id, visible_teams(principal))
    return query if condition is None else query.where(condition)


# -- verdicts --------------------------------------------------------------------------------


def known_intents() -> list[str]:
    """The intents a reviewer may assign: domain.yml's, the only list of them."""
    return RasaProject.default().intents()


async def review(
    session: AsyncSession,
    item: MisreadMessage,
    *,
    verdict: Verdict,
    intent: str | None,
    note: str,
    blind: BlindSets | None,
    actor: str,
    now: datetime,
) -> MisreadMessage:
    """Record a verdict on a pending item, with its audit row. An approval needs the blind
    sets (`blind`), whose texts are never approved."""
    if item.state is not ReviewState.PENDING:
        raise AlreadyReviewedError(
            f"message {item.id} was reviewed already ({item.state.value}"
            f"{' as ' + item.intent if item.intent else ''}, by {item.decided_by})"
        )
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ReviewError(f"note: at most {MAX_NOTE} characters")
    before = _snapshot(item)
    if verdict is Verdict.APPROVE:
        item.intent = _approvable(item, intent, blind)
        item.state, action = ReviewState.APPROVED, Action.NLU_REVIEW_INTENT_ASSIGNED
    elif verdict is Verdict.NEW_INTENT:
        item.state, action = ReviewState.NEW_INTENT, Action.NLU_REVIEW_NEW_INTENT
    else:
        item.state, action = ReviewState.DISMISSED, Action.NLU_REVIEW_DISMISSED
    item.note = note or None
    item.decided_by, item.decided_at = actor, now
    conversation = await session.get_one(Conversation, item.conversation_id)
    record(
        session,
        actor=actor,
        action=action,
        object_type="nlu_review_item",
        object_id=item.id,
        team_id=await team_of_conversation(session, conversation),
        before=before,
        after=_snapshot(item),
        details={"note": item.note} if item.note else None,
        at=now,
    )
    await session.flush()
    log.info("nlu_review.reviewed", item_id=item.id, verdict=verdict.value, intent=item.intent)
    return item


async def reopen(
    session: AsyncSession, item: MisreadMessage, *, actor: str, now: datetime
) -> MisreadMessage:
    """Take back a verdict (a wrong intent, a hasty dismissal): the item waits for review
    again, and is no longer trained on from the next model on."""
    if item.state is ReviewState.PENDING:
        raise AlreadyReviewedError(f"message {item.id} is waiting for review already")
    before = _snapshot(item)
    item.state, item.intent, item.note = ReviewState.PENDING, None, None
    item.decided_by, item.decided_at = None, None
    conversation = await session.get_one(Conversation, item.conversation_id)
    record(
        session,
        actor=actor,
        action=Action.NLU_REVIEW_REOPENED,
        object_type="nlu_review_item",
        object_id=item.id,
        team_id=await team_of_conversation(session, conversation),
        before=before,
        after=_snapshot(item),
        at=now,
    )
    await session.flush()
    return item


def _approvable(item: MisreadMessage, intent: str | None, blind: BlindSets | None) -> str:
    chosen = (intent or "").strip()
    if not chosen:
        raise ReviewError("intent: choose the intent the candidate meant")
    if chosen == FALLBACK_INTENT or chosen not in known_intents():
        raise ReviewError(f"intent: {chosen[:64]!r} is not an intent of domain.yml")
    try:
        training_text(item.text)
    except UntrainableTextError as exc:
        raise ReviewError(str(exc)) from exc
    if blind is None:
        raise ReviewError("the blind evaluation sets are needed to approve an example")
    holder = blind.holding(item.text)
    if holder is not None:
        raise BlindSetTextError(
            f"this text is in the blind evaluation set {holder}, and blind sets are never "
            "trained on: dismiss it instead"
        )
    return chosen


def _snapshot(item: MisreadMessage) -> dict[str, Any]:
    return {
        "state": item.state.value,
        "intent": item.intent,
        "predicted_intent": item.predicted_intent,
        "reasons": list(item.reasons),
    }
