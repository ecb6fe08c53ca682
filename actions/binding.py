"""The binding form: the chat side's manual binding (application code, phone or e-mail, then
the 6-digit code e-mailed to the candidate) asked for as a Rasa form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker  # type: ignore[import-untyped]
from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]
from rasa_sdk.executor import CollectingDispatcher  # type: ignore[import-untyped]
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from actions import texts
from actions.base import DomainDict, Events, party_of
from actions.env import action_env
from candor.chat import binding
from candor.chat.commands import APPLICATION_CODE
from candor.chat.language import slot_locale
from candor.clock import utcnow
from candor.logging import get_logger
from candor.models import Application, Candidate

log = get_logger(__name__)


class ValidateBindForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_bind_form"

    async def validate_bind_identifier(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        locale = slot_locale(tracker.get_slot("language"))
        identifier = str(slot_value or "").strip()
        async with action_env() as env:
            party = await party_of(env.session, tracker)
            code = await _application_code(env.session, identifier)
            to_send = (
                await binding.request_code(
                    env.session,
                    party.identity,
                    code,
                    secret=env.settings.secret_key.get_secret_value(),
                    now=utcnow(),
                    locale=locale,
                )
                if party is not None and code is not None
                else None
            )
            if to_send is None:
                dispatcher.utter_message(text=texts.say("bind_not_found", locale))
                return {"bind_identifier": None}
        return {"bind_identifier": to_send.application_code}

    async def validate_otp_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        locale = slot_locale(tracker.get_slot("language"))
        async with action_env() as env:
            party = await party_of(env.session, tracker)
            result = (
                await binding.verify_code(
                    env.session,
                    party.identity,
                    str(slot_value or "").strip(),
                    application_code=tracker.get_slot("bind_identifier"),
                    secret=env.settings.secret_key.get_secret_value(),
                    now=utcnow(),
                )
                if party is not None
                else None
            )
        if result is None:
            dispatcher.utter_message(text=texts.say("bind_code_wrong", locale))
            return {"otp_code": None}
        return {"otp_code": "verified"}


async def _application_code(session: AsyncSession, identifier: str) -> str | None:
    """The application an identifier names: its code, or the only application of the
    candidate with that mobile number or e-mail address."""
    if APPLICATION_CODE.fullmatch(identifier):
        return identifier.upper()
    if not identifier:
        return None
    candidates = (
        await session.scalars(
            select(Candidate.id).where(
                or_(Candidate.mobile == identifier, Candidate.email == identifier.lower())
            )
        )
    ).all()
    if len(candidates) != 1:
        return None
    codes = (
        await session.scalars(
            select(Application.code)
            .where(Application.candidate_id == candidates[0])
            .order_by(Application.applied_at.desc())
        )
    ).all()
    return str(codes[0]) if codes else None


class ActionBindIdentity(Action):  # type: ignore[misc]
    """After the form: confirm, and forget the identifiers."""

    def name(self) -> str:
        return "action_bind_identity"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(response="utter_bind_success")
        return [
            SlotSet("bind_identifier", None),
            SlotSet("otp_code", None),
        ]
