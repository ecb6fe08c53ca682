"""The binding form: the chat side's manual binding (the candidate's phone or e-mail, with or
without an application code, then the 6-digit code e-mailed to the address on file) asked
for as a Rasa form. A code goes out only when the contact is the candidate's own, and the
form answers the same whether it did or not."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker  # type: ignore[import-untyped]
from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]
from rasa_sdk.executor import CollectingDispatcher  # type: ignore[import-untyped]
from sqlalchemy import Text, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from actions import texts
from actions.base import DomainDict, Events, party_of
from actions.env import action_env
from candor.chat import binding, limits
from candor.chat.commands import APPLICATION_CODE, normalise_contact
from candor.chat.language import slot_locale
from candor.clock import utcnow
from candor.crypto.lookups import has_email, has_mobile, stored
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
        said = str(tracker.latest_message.get("text") or "")
        contact = _contact(slot_value, tracker.latest_message.get("entities") or [])
        if contact is None:
            # An application code alone sends nothing: ask for the phone or e-mail too.
            dispatcher.utter_message(text=texts.say("bind_needs_contact", locale))
            return {"bind_identifier": None}
        async with action_env() as env:
            party = await party_of(env.session, tracker)
            if party is None:
                return {"bind_identifier": None}
            now = utcnow()
            limited = await limits.hit(
                env.redis,
                (
                    limits.CODE_REQUESTS_PER_ACCOUNT,
                    limits.subject(party.identity.channel.value, party.identity.external_user_id),
                ),
                (limits.CODE_REQUESTS_OVERALL, limits.OVERALL),
                now=now,
            )
            if limited is not None:
                dispatcher.utter_message(
                    text=texts.say("bind_slow_down", locale, minutes=limited.retry_after_minutes)
                )
                return {"bind_identifier": None}
            named = APPLICATION_CODE.search(said)
            code = (
                named.group(0).upper()
                if named is not None
                else await _latest_application_code(env.session, contact)
            )
            if code is not None:
                await binding.request_code(
                    env.session,
                    party.identity,
                    code,
                    contact,
                    redis=env.redis,
                    secret=env.settings.secret_key.get_secret_value(),
                    now=now,
                    locale=locale,
                )
        # Whatever happened, the form goes on to ask for the code: nothing is disclosed.
        return {"bind_identifier": contact}

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
                    application_code=None,  # the application this account asked a code for
                    redis=env.redis,
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


def _contact(slot_value: Any, entities: list[dict[str, Any]]) -> str | None:
    """The phone or e-mail the candidate gave: the slot's value, or an entity beside the
    application code the slot took."""
    offered = [
        slot_value,
        *(e.get("value") for e in entities if e.get("entity") != "application_code"),
    ]
    for value in offered:
        contact = normalise_contact(str(value)) if value else None
        if contact is not None:
            return contact
    return None


async def _latest_application_code(session: AsyncSession, contact: str) -> str | None:
    """The latest application of the only candidate with this e-mail or phone, if one."""
    if "@" in contact:
        found = select(Candidate.id).where(has_email(contact))
    else:
        legacy = stored(Candidate.mobile.expression).endswith(literal(contact, Text()))
        found = select(Candidate.id).where(has_mobile(contact, legacy))
    candidates = (await session.scalars(found.limit(2))).all()
    if len(candidates) != 1:
        return None
    code = await session.scalar(
        select(Application.code)
        .where(Application.candidate_id == candidates[0])
        .order_by(Application.applied_at.desc())
        .limit(1)
    )
    return str(code) if code is not None else None


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
