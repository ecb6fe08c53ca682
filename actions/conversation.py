"""The conversation itself: opting out, handing off to HR, unclear messages, the rating, and
questions about the job."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]

from actions import texts
from actions.base import CandorAction, Context, Events
from candor.chat import binding, consent, teams
from candor.chat.commands import named_channels
from candor.chat.texts import text as chat_text
from candor.clock import BUSINESS_TZ
from candor.dialogue import service
from candor.dialogue.queries import own_applications, pick_application
from candor.models import Application
from candor.models.enums import Locale
from candor.sla.service import current_calendar

FALLBACK_INTENT = "nlu_fallback"
FALLBACKS_BEFORE_HANDOFF = 2
# Below this the job-info answer is not trusted to the knowledge base: HR drafts it.
JOB_INFO_MIN_CONFIDENCE = 0.6


def consecutive_fallbacks(events: list[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        count += 1
    return count


def _opt_out_scope(context: Context) -> str | None:
    """ "all" or "channel" when the candidate said (or pressed) which, else None. Naming only
    the channel they are writing on means that channel."""
    scopes = list(context.tracker.get_latest_entity_values("opt_out_scope"))
    if scopes:
        return str(scopes[0])
    text = str(context.tracker.latest_message.get("text") or "")
    if named_channels(text) == {context.party.identity.channel}:
        return consent.SCOPE_CHANNEL
    return None


class ActionOptOut(CandorAction):
    def name(self) -> str:
        return "action_opt_out"

    async def act(self, context: Context) -> Events:
        identity = context.party.identity
        scope = _opt_out_scope(context)
        if scope == consent.SCOPE_ALL:
            await consent.stop_all_proactive(
                context.session, context.candidate, identity, now=context.now
            )
            context.say("opted_out_all")
        elif scope == consent.SCOPE_CHANNEL:
            await binding.set_opt_out(
                context.session, identity, opted_out=True, via="chat", now=context.now
            )
            context.dispatcher.utter_message(
                text=chat_text("opted_out", context.locale, channel=identity.channel)
            )
        else:
            # Silently picking one would either keep pushing on other channels, or stop
            # results the candidate still wants: ask.
            context.dispatcher.utter_message(
                text=texts.say("opt_out_which", context.locale),
                buttons=[
                    {
                        "title": texts.say("opt_out_this_channel", context.locale),
                        "payload": f'/opt_out{{"opt_out_scope": "{consent.SCOPE_CHANNEL}"}}',
                    },
                    {
                        "title": texts.say("opt_out_everything", context.locale),
                        "payload": f'/opt_out{{"opt_out_scope": "{consent.SCOPE_ALL}"}}',
                    },
                ],
            )
        return []


class ActionJoinTalentPool(CandorAction):
    def name(self) -> str:
        return "action_join_talent_pool"

    async def act(self, context: Context) -> Events:
        joined = consent.join_talent_pool(
            context.session, context.candidate, context.party.identity, now=context.now
        )
        context.say("talent_pool_joined" if joined else "talent_pool_already")
        return []


class ActionHandoff(CandorAction):
    def name(self) -> str:
        return "action_handoff"

    async def act(self, context: Context) -> Events:
        intent = (context.tracker.latest_message.get("intent") or {}).get("name")
        reason = "complaint" if intent == "complain" else "asked"
        await service.open_handoff(
            context.session, context.party.conversation, reason=reason, now=context.now
        )
        if reason != "complaint":  # utter_complaint_received already said so
            context.say("handoff")
        return []


# "Did you mean: yes?" asks nothing: the clarifying question offers only things to do.
NOT_A_REQUEST = frozenset(
    {"affirm", "deny", "greet", "goodbye", "thank", "bot_challenge", "out_of_scope"}
)


class ActionClarifyIntent(CandorAction):
    def name(self) -> str:
        return "action_clarify_intent"

    async def act(self, context: Context) -> Events:
        if consecutive_fallbacks(context.tracker.events) >= FALLBACKS_BEFORE_HANDOFF:
            await service.open_handoff(
                context.session, context.party.conversation, reason="fallback", now=context.now
            )
            context.say("handoff")
            return []
        ranking = context.tracker.latest_message.get("intent_ranking") or []
        top = [
            r["name"]
            for r in ranking
            if r.get("name") != FALLBACK_INTENT and r.get("name") not in NOT_A_REQUEST
        ][:2]
        context.dispatcher.utter_message(
            text=texts.say("clarify", context.locale),
            buttons=[
                {"title": texts.intent_label(name, context.locale), "payload": f"/{name}"}
                for name in top
            ],
        )
        return []


class ActionRateExperience(CandorAction):
    def name(self) -> str:
        return "action_rate_experience"

    async def act(self, context: Context) -> Events:
        values = list(context.tracker.get_latest_entity_values("rating"))
        raw = values[0] if values else context.tracker.get_slot("rating")
        rating = int(raw) if raw is not None and str(raw).isdigit() else None
        if rating is None or not 1 <= rating <= 5:
            context.dispatcher.utter_message(response="utter_ask_rating")
            return []
        # A rating nobody asked for (no result delivered yet) is thanked but not stored.
        await service.store_rating(context.session, context.candidate.id, rating, now=context.now)
        context.say("rating_thanks", rating=rating)
        return [SlotSet("rating", None)]


class ActionJobInfo(CandorAction):
    def name(self) -> str:
        return "action_job_info"

    async def act(self, context: Context) -> Events:
        tracker = context.tracker
        topics = list(tracker.get_latest_entity_values("job_topic"))
        topic = str(topics[0]) if topics else None
        applications = await own_applications(context.session, context.candidate.id)
        chosen = pick_application(applications, tracker.get_slot("application_code"))
        if isinstance(chosen, list):
            # Several to choose from: the one the conversation is about already, if open.
            current = await teams.application_of_conversation(
                context.session, context.party.conversation.id
            )
            application: Application | None = next(
                (a for a in chosen if a.id == current), chosen[0]
            )
        else:
            application = chosen
            if application is not None:
                await teams.concern(
                    context.session, context.party.conversation.id, application, now=context.now
                )
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0)
        job_id = application.job_id if application is not None else None
        answer = (
            await service.approved_answer(context.session, job_id, topic, context.locale)
            if topic is not None
            else None
        )
        if answer is not None and confidence >= JOB_INFO_MIN_CONFIDENCE:
            context.say("job_answer", answer=answer.answer)
            return [SlotSet("job_topic", None)]
        other_language = (
            await service.approved_answer(
                context.session,
                job_id,
                topic,
                Locale.EN if context.locale is Locale.ZH_CN else Locale.ZH_CN,
            )
            if topic is not None
            else None
        )
        await service.queue_job_question(
            context.session,
            context.party.conversation,
            application=application,
            topic=topic,
            locale=context.locale,
            question=str(tracker.latest_message.get("text") or "")[:2000],
            draft=known.answer if (known := answer or other_language) is not None else None,
            now=context.now,
        )
        calendar = await current_calendar(context.session)
        by, _ = calendar.add_working_days(context.now.astimezone(BUSINESS_TZ).date(), 1)
        context.say("job_question_queued", date=texts.day(by, context.locale))
        return [SlotSet("job_topic", None)]
