"""The embedded dialogue engine: the Rasa project's NLU, rules, forms and responses, with the
actions run in-process through rasa-sdk's `ActionExecutor`, on the gateway's transaction.

A turn: load the conversation's state, locked, and whether HR has it (one query) → read the
message (a button's `/intent{...}` payload, or the NLU model) → stay quiet if HR has the
conversation → fill slots from entities → run actions until the next one is to listen →
store the state. Nothing is sent here: the gateway records and delivers the replies after
its commit.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rasa_sdk.executor import ActionExecutor  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from actions.env import ActionEnv, use_env
from candor import metrics
from candor.chat.engine import Turn
from candor.chat.language import message_language, readable, slot_language
from candor.chat.messages import Button, Reply
from candor.clock import utcnow
from candor.db.aftercommit import on_commit
from candor.dialogue.context import (
    PAYLOAD,
    BotContext,
    needs_result,
    offered_intents,
    settle,
)
from candor.dialogue.policy import FlowPolicy, Token
from candor.dialogue.project import (
    ACTION_LISTEN,
    DEFAULT_FALLBACK,
    REQUESTED_SLOT,
    DialogueProject,
    load_project,
)
from candor.dialogue.queries import result_told_since
from candor.dialogue.state import load_state, save_state
from candor.logging import get_logger
from candor.models.nlu_review import MisreadReason
from candor.nlu_review.active import active_model
from candor.nlu_review.service import record_misunderstood
from candor.runtime import Runtime
from candor.settings import Settings
from nlu.entities import Entity
from nlu.model import MODEL_FORMAT, IntentScore, NluModel, ParseResult, load_or_train
from nlu.project import FALLBACK_INTENT, RasaProject

log = get_logger(__name__)

MAX_ACTIONS_PER_TURN = 10
# Stopping messages and taking a copy of their data are the candidate's rights even while
# HR has the conversation.
HONOURED_DURING_HANDOFF = frozenset({"opt_out", "request_data_export"})
RANKING_KEPT = 5


_models: dict[tuple[str, Path, Path], NluModel] = {}
_models_lock = threading.Lock()


def shared_model(settings: Settings, root: Path) -> NluModel:
    """One model per process and training data: keyed by the files' fingerprint, so an
    edited nlu.yml is picked up by the next engine built, and the same data is loaded once."""
    fingerprint = RasaProject(root).fingerprint(salt=MODEL_FORMAT)
    key = (fingerprint, root, settings.nlu_cache_dir)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = load_or_train(settings, project=RasaProject(root))
            # The model (and all that is loaded by now) lives as long as the process: keep
            # it out of the cyclic garbage collector's full passes, which otherwise walk
            # some 300,000 long-lived objects (~100 ms, every request in flight stalled).
            gc.freeze()
        return model


@dataclass(slots=True)
class _TurnState:
    slots: dict[str, Any]
    active_loop: str | None
    events: list[dict[str, Any]]
    replies: list[Reply] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("event") == "slot":
            self.slots[str(event["name"])] = event.get("value")
        elif event.get("event") == "active_loop":
            self.active_loop = event.get("name")

    def history(self) -> list[Token]:
        tokens: list[Token] = []
        for event in self.events:
            if event.get("event") == "user":
                name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
                if name:
                    tokens.append(("intent", str(name)))
            elif event.get("event") == "action" and event.get("name") != ACTION_LISTEN:
                name = str(event.get("name"))
                if not name.startswith("validate_"):
                    tokens.append(("action", name))
        return tokens


class EmbeddedEngine:
    name = "embedded"

    def __init__(
        self,
        runtime: Runtime,
        *,
        model: NluModel | None = None,
        project_root: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.root = project_root or RasaProject.default().root
        self.project: DialogueProject = load_project(self.root)
        self.policy = FlowPolicy(self.project.flows)
        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        missing = sorted(self.project.actions - set(self.executor.actions))
        if missing:
            raise RuntimeError(f"actions in domain.yml without an implementation: {missing}")
        self._model = model
        self._model_lock = asyncio.Lock()
        self._intents = frozenset(self.project.intents)

    async def model(self) -> NluModel:
        """The NLU model, loaded (or trained) on first use, off the event loop; or the model
        accepted in the console's NLU review, swapped in without a restart (see
        candor.nlu_review.active: a clock read per turn, a shared read once a second)."""
        if self._model is None:
            async with self._model_lock:
                if self._model is None:
                    started = time.perf_counter()
                    self._model = await asyncio.to_thread(
                        shared_model, self.runtime.settings, self.root
                    )
                    log.info(
                        "dialogue.model_ready", seconds=round(time.perf_counter() - started, 3)
                    )
        return await active_model(self.runtime, self._model)

    async def respond(self, session: AsyncSession, turn: Turn) -> list[Reply]:
        model = await self.model()
        # Turns of a conversation are serialised by the gateway's chat lock and the state
        # row's lock (see candor.dialogue.state).
        stored = await load_state(session, turn.conversation_id, self.project.initial_slots)
        state = _TurnState(
            slots={**self.project.initial_slots, **stored.slots},
            active_loop=stored.active_loop,
            events=stored.events,
        )
        state.add({"event": "slot", "name": "language", "value": _reply_language(turn, state)})
        now = utcnow()
        parse = self.understand(model, turn)
        if parse is None:
            # An empty message, a lone "？？" or a control sequence: nothing to understand,
            # and no reason to count it as misunderstood (two of those hand off to HR).
            if not stored.with_hr:
                self._utter("utter_nothing_to_read", state)
        else:
            previous = _last_user_event(state.events)
            parse = await self._in_context(session, turn, parse, state.events)
            # What the turn was taken as, after the conversation's context settled it;
            # counted once the turn commits, so a turn rolled back and retried counts once.
            intent, fallback = parse.intent.name, parse.is_fallback

            async def count() -> None:
                metrics.nlu_prediction(self.name, intent, fallback=fallback, known=self._intents)

            on_commit(session, count)
            state.add(
                {
                    "event": "user",
                    "text": parse.text,
                    "parse_data": _parse_data(parse),
                    "timestamp": now.timestamp(),
                    "input_channel": turn.channel.value,
                }
            )
            if stored.with_hr and parse.intent.name not in HONOURED_DURING_HANDOFF:
                # HR has the conversation: the message is kept in the state, the bot is quiet.
                state.add({"event": "action", "name": ACTION_LISTEN})
                log.info("dialogue.quiet_during_handoff", conversation_id=turn.conversation_id)
            else:
                with use_env(ActionEnv(session, self.runtime.settings, self.runtime.redis)):
                    await self._run_actions(str(turn.conversation_id), parse, state)
                await _queue_misread(session, turn, parse, previous, now=now)
        await save_state(
            session,
            stored,
            slots=state.slots,
            active_loop=state.active_loop,
            events=state.events,
            now=now,
        )
        log.info(
            "dialogue.turn",
            conversation_id=turn.conversation_id,
            intent=parse.intent.name if parse is not None else None,
            confidence=round(parse.intent.confidence, 3) if parse is not None else None,
            actions=state.actions,
        )
        return state.replies

    def understand(self, model: NluModel, turn: Turn) -> ParseResult | None:
        """A button's `/intent{"entity": "value"}` payload is taken as it is (as Rasa does);
        anything else goes through the NLU model. None when there is nothing to read."""
        raw = turn.event_key if turn.event == "button" and turn.event_key else turn.text
        text = (raw or "").strip()
        match = PAYLOAD.match(text)
        if match and match.group("intent") in self.project.intents:
            return _payload_parse(text, match)
        words = readable(text)
        if not words:
            return None
        parse = model.parse(words)
        threshold = self.runtime.settings.nlu_fallback_threshold
        return parse if threshold is None else _with_threshold(parse, threshold)

    async def _in_context(
        self,
        session: AsyncSession,
        turn: Turn,
        parse: ParseResult,
        events: list[dict[str, Any]],
    ) -> ParseResult:
        """An unsure reading settled by what the candidate was last told (see
        candor.dialogue.context): the bot's last question, or a result that just arrived."""
        context = BotContext(offered_intents(events))
        if needs_result(parse):
            since = _last_user_message_at(events)
            result = await result_told_since(session, turn.candidate_id, since=since)
            context = BotContext(context.offered, result)
        settled = settle(parse, context)
        if settled is not parse:
            log.info("dialogue.context_resolved", intent=settled.intent.name)
        return settled

    # -- running actions ------------------------------------------------------------------

    async def _run_actions(self, sender: str, parse: ParseResult, state: _TurnState) -> None:
        extracted = self._extracted_slots(parse)
        form = state.active_loop
        if form is not None:
            wanted = {s: v for s, v in extracted.items() if s in self.project.forms[form]}
            wanted.update(self._text_for_form(form, parse, state))
            if wanted or parse.intent.name == "bind_identity":
                await self._run_form(sender, form, parse, state, wanted)
                if state.active_loop is not None:
                    return
                extracted = {}
            else:
                # The candidate moved on: the form gives way, the intent is answered.
                state.add({"event": "active_loop", "name": None})
                state.add({"event": "slot", "name": REQUESTED_SLOT, "value": None})
        for slot, value in extracted.items():
            state.add({"event": "slot", "name": slot, "value": value})
        for _ in range(MAX_ACTIONS_PER_TURN):
            prediction = self.policy.predict(state.history())
            if prediction is None:
                if state.actions:
                    break
                action = DEFAULT_FALLBACK
            else:
                action = prediction.action
            if action == ACTION_LISTEN:
                break
            if self.project.is_form(action):
                await self._run_form(sender, action, parse, state, {})
                if state.active_loop is not None:
                    break
                continue
            await self._run_action(sender, action, parse, state)
        state.add({"event": "action", "name": ACTION_LISTEN})

    def _text_for_form(self, form: str, parse: ParseResult, state: _TurnState) -> dict[str, Any]:
        """The requested slot filled with the message's text, when its mapping says so."""
        requested = state.slots.get(REQUESTED_SLOT)
        mapping = self.project.text_mappings.get(str(requested))
        if (
            mapping is None
            or mapping.form != form
            or parse.intent.name in mapping.not_intents
            or not parse.text.strip()
        ):
            return {}
        return {str(requested): parse.text.strip()}

    def _extracted_slots(self, parse: ParseResult) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for slot, mappings in self.project.slot_mappings.items():
            for mapping in mappings:
                value = next((e.value for e in parse.entities if e.entity == mapping.entity), None)
                if value is not None:
                    found[slot] = value
                    break
        return found

    async def _run_form(
        self,
        sender: str,
        form: str,
        parse: ParseResult,
        state: _TurnState,
        candidates: dict[str, Any],
    ) -> None:
        required = self.project.forms[form]
        if state.active_loop != form:
            state.add({"event": "active_loop", "name": form})
            candidates = {
                s: v for s, v in self._extracted_slots(parse).items() if s in required
            } or candidates
        if candidates:
            validator = f"validate_{form}"
            slot_events = [{"event": "slot", "name": s, "value": v} for s, v in candidates.items()]
            if validator in self.executor.actions:
                await self._execute(sender, validator, parse, state, extra=slot_events)
            else:
                for event in slot_events:
                    state.add(event)
        state.actions.append(form)
        state.add({"event": "action", "name": form})
        missing = next((slot for slot in required if state.slots.get(slot) is None), None)
        if missing is None:
            state.add({"event": "active_loop", "name": None})
            state.add({"event": "slot", "name": REQUESTED_SLOT, "value": None})
            return
        state.add({"event": "slot", "name": REQUESTED_SLOT, "value": missing})
        self._utter(f"utter_ask_{missing}", state)

    async def _run_action(
        self, sender: str, action: str, parse: ParseResult, state: _TurnState
    ) -> None:
        state.actions.append(action)
        if self.project.is_response(action):
            self._utter(action, state)
            state.add({"event": "action", "name": action})
            return
        if action not in self.executor.actions:
            raise RuntimeError(f"{action!r} is neither a response nor a registered action")
        state.add({"event": "action", "name": action})
        await self._execute(sender, action, parse, state)

    async def _execute(
        self,
        sender: str,
        action: str,
        parse: ParseResult,
        state: _TurnState,
        *,
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        events = [*state.events, *(extra or [])]
        call = {
            "next_action": action,
            "sender_id": sender,
            "tracker": {
                "sender_id": sender,
                "slots": dict(state.slots),
                "latest_message": {**_parse_data(parse), "text": parse.text},
                "events": events,
                "paused": False,
                "followup_action": None,
                "active_loop": {"name": state.active_loop} if state.active_loop else {},
                "latest_action_name": action,
            },
            "domain": self.project.rasa_domain(),
            "version": "3.6.21",
        }
        result = await self.executor.run(call)
        assert result is not None
        for event in result.events:
            if event.get("event") in ("slot", "active_loop"):
                state.add(event)
            else:
                state.events.append(event)
        for message in result.responses:
            self._dispatched(message, state)

    # -- responses --------------------------------------------------------------------------

    def _dispatched(self, message: dict[str, Any], state: _TurnState) -> None:
        if message.get("response"):
            self._utter(str(message["response"]), state)
            return
        text = str(message.get("text") or "")
        buttons = tuple(
            Button(str(b["title"]), str(b["payload"])) for b in message.get("buttons") or []
        )
        if text or buttons:
            self._reply(Reply(text, buttons), state)

    def _utter(self, response: str, state: _TurnState) -> None:
        variants = self.project.responses.get(response) or ()
        chosen = next(
            (
                v
                for v in variants
                if v.condition and all(state.slots.get(s) == value for s, value in v.condition)
            ),
            None,
        ) or next((v for v in variants if not v.condition), None)
        if chosen is None:
            raise RuntimeError(f"no variant of {response!r} fits the slots")
        self._reply(
            Reply(chosen.text, tuple(Button(title, payload) for title, payload in chosen.buttons)),
            state,
        )

    def _reply(self, reply: Reply, state: _TurnState) -> None:
        state.replies.append(reply)
        state.events.append(
            {
                "event": "bot",
                "text": reply.text,
                "data": {
                    "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons]
                },
            }
        )


def _reply_language(turn: Turn, state: _TurnState) -> str:
    """The language of this message; for one without words, the conversation's so far
    (else the candidate's)."""
    language = message_language(turn.text if turn.event != "button" else None)
    if language is not None:
        return slot_language(language)
    previous = state.slots.get("language")
    if state.events and previous in ("zh", "en"):
        return str(previous)
    return slot_language(turn.locale)


def _parse_data(parse: ParseResult) -> dict[str, Any]:
    return {
        "intent": {"name": parse.intent.name, "confidence": parse.intent.confidence},
        "entities": [entity.to_dict() for entity in parse.entities],
        "intent_ranking": [
            {"name": s.name, "confidence": s.confidence}
            for s in parse.intent_ranking[:RANKING_KEPT]
        ],
        "text": parse.text,
    }


def _last_user_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in reversed(events) if e.get("event") == "user"), None)


def _last_user_message_at(events: list[dict[str, Any]]) -> datetime | None:
    stamp = (_last_user_event(events) or {}).get("timestamp")
    return datetime.fromtimestamp(float(stamp), UTC) if stamp is not None else None


async def _queue_misread(
    session: AsyncSession,
    turn: Turn,
    parse: ParseResult,
    previous: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    """Messages the bot misread go to HR's review queue (candor.nlu_review): one it was
    unsure of (and, the second time in a row, handed to HR), and the message a complaint
    followed, which the bot most likely answered wrongly."""
    if parse.is_fallback:
        reasons = [MisreadReason.FALLBACK]
        if _intent_of(previous) == FALLBACK_INTENT:
            reasons.append(MisreadReason.HANDOFF_AFTER_MISREAD)
        ranking = [s.to_dict() for s in parse.intent_ranking if s.name != FALLBACK_INTENT]
        for reason in reasons:
            await record_misunderstood(
                session, conversation_id=turn.conversation_id, text=parse.text,
                reason=reason.value, intent=parse.best_guess.name,
                confidence=parse.best_guess.confidence, ranking=ranking[:RANKING_KEPT], now=now,
            )  # fmt: skip
    elif parse.intent.name == "complain" and previous is not None:
        intent = _intent_of(previous)
        if intent in (None, "complain"):
            return
        data = previous.get("parse_data") or {}
        await record_misunderstood(
            session, conversation_id=turn.conversation_id, text=str(previous.get("text") or ""),
            reason=MisreadReason.FOLLOWED_BY_COMPLAINT.value, intent=intent,
            confidence=(data.get("intent") or {}).get("confidence"),
            ranking=list(data.get("intent_ranking") or []), now=now,
        )  # fmt: skip


def _intent_of(event: dict[str, Any] | None) -> str | None:
    name = (((event or {}).get("parse_data") or {}).get("intent") or {}).get("name")
    return str(name) if name else None


def _with_threshold(parse: ParseResult, threshold: float) -> ParseResult:
    """The parse judged against the configured threshold instead of config.yml's."""
    ranking = tuple(s for s in parse.intent_ranking if s.name != FALLBACK_INTENT)
    if not ranking:
        return parse
    best = ranking[0]
    if best.confidence >= threshold:
        return ParseResult(parse.text, best, parse.entities, ranking)
    fallback = IntentScore(FALLBACK_INTENT, threshold)
    return ParseResult(parse.text, fallback, parse.entities, (fallback, *ranking))


def _payload_parse(text: str, match: re.Match[str]) -> ParseResult:
    intent = IntentScore(match.group("intent"), 1.0)
    entities: list[Entity] = []
    raw = match.group("entities")
    if raw:
        try:
            values = json.loads(raw)
        except json.JSONDecodeError:
            values = {}
        if isinstance(values, dict):
            entities = [
                Entity(str(k), str(v), 0, len(text))
                for k, v in values.items()
                if isinstance(v, str | int | float)
            ]
    return ParseResult(text, intent, tuple(entities), (intent,))


__all__ = ["FALLBACK_INTENT", "EmbeddedEngine", "shared_model"]
