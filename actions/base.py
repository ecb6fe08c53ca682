"""The base every Candor action shares: find who is talking, refuse the unbound, and give the
action its session, settings and the candidate's language."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker  # type: ignore[import-untyped]
from rasa_sdk.events import ActiveLoop, SlotSet  # type: ignore[import-untyped]
from rasa_sdk.executor import CollectingDispatcher  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from actions import texts
from actions.env import action_env
from candor.chat.language import slot_locale
from candor.clock import utcnow
from candor.dialogue.queries import ChatParty, chat_party
from candor.logging import get_logger
from candor.models import Candidate
from candor.models.enums import Locale
from candor.settings import Settings

log = get_logger(__name__)

DomainDict = dict[str, Any]
REQUESTED_SLOT = "requested_slot"
Events = list[dict[str, Any]]


def conversation_id_of(tracker: Tracker) -> int | None:
    """The tracker's sender id is the conversation's id: the gateway's conversation for the
    chat account (both engines send it that way)."""
    sender = str(tracker.sender_id or "")
    return int(sender) if sender.isdigit() else None


async def party_of(session: AsyncSession, tracker: Tracker) -> ChatParty | None:
    """Who is talking in the tracker's conversation; None for a sender that is not one."""
    conversation_id = conversation_id_of(tracker)
    return await chat_party(session, conversation_id) if conversation_id is not None else None


@dataclass(frozen=True, slots=True)
class Context:
    session: AsyncSession
    settings: Settings
    party: ChatParty
    candidate: Candidate
    locale: Locale
    dispatcher: CollectingDispatcher
    tracker: Tracker
    now: datetime

    def say(self, key: str, **values: object) -> None:
        self.dispatcher.utter_message(text=texts.say(key, self.locale, **values))


class CandorAction(Action, abc.ABC):  # type: ignore[misc]
    """An action about the bound candidate of the conversation (`tracker.sender_id`)."""

    # A button's action ends a form that was asking for words (the candidate's own times):
    # the tap answered something else, and the next message must not fill the form. Rasa
    # would otherwise return to the form after the action; the embedded engine leaves it.
    ends_forms = False

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        async with action_env() as env:
            party = await party_of(env.session, tracker)
            if party is None or party.candidate is None:
                dispatcher.utter_message(text=texts.say("not_bound", Locale.ZH_CN))
                log.info("dialogue.action_unbound", action=self.name())
                return []
            context = Context(
                session=env.session,
                settings=env.settings,
                party=party,
                candidate=party.candidate,
                # The language the candidate wrote in (the engine sets the slot per message).
                locale=slot_locale(tracker.get_slot("language")),
                dispatcher=dispatcher,
                tracker=tracker,
                now=utcnow(),
            )
            events = await self.act(context)
        if self.ends_forms and tracker.active_loop_name is not None:
            events = [*events, ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        return events

    @abc.abstractmethod
    async def act(self, context: Context) -> Events:
        """Answer through `context.dispatcher`; return the events (slot sets) to apply."""
