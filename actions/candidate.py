"""Questions about the candidate's own applications: progress, feedback, next step and
withdrawing (moving and cancelling an interview: actions/scheduling.py)."""

from __future__ import annotations

from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]

from actions import texts
from actions.base import CandorAction, Context, Events
from actions.slot_offers import offer_slots
from candor.chat import teams
from candor.chat.subscription_prompt import MAX_SCENE, PROMPT_URL, prompt_link
from candor.dialogue import service
from candor.dialogue.queries import (
    Progress,
    latest_result,
    own_applications,
    pick_application,
    progress,
    released_at,
    sent_result,
)
from candor.models import Application, Interview, Job
from candor.models.enums import INTERVIEW_STAGE, Channel, Decision
from candor.models.scheduling import InvitationState
from candor.scheduling import service as scheduling
from candor.scheduling.notices import candidate_zone


def _chosen_code(context: Context) -> str | None:
    values = list(context.tracker.get_latest_entity_values("application_code"))
    if values:
        return str(values[0])
    slot = context.tracker.get_slot("application_code")
    return str(slot) if slot else None


def _forget_code() -> Events:
    """A code that led nowhere (mistyped, someone else's, or one of several to choose from)
    must not stick to the candidate's next questions."""
    return [SlotSet("application_code", None)]


async def _application(context: Context, intent: str) -> Application | None:
    """The application asked about; None after replying (not found, or which one). Once
    settled, the conversation is about it: its team reads it and answers its hand-offs."""
    applications = await own_applications(context.session, context.candidate.id)
    if not applications:
        context.say("no_application")
        return None
    chosen = pick_application(applications, _chosen_code(context))
    if chosen is None:
        context.say("not_yours")
        return None
    if isinstance(chosen, list):
        context.dispatcher.utter_message(
            text=texts.say("which_application", context.locale),
            buttons=[
                {
                    "title": f"{a.job.title} ({a.code})",
                    "payload": f'/{intent}{{"application_code": "{a.code}"}}',
                }
                for a in chosen
            ],
        )
        return None
    await teams.concern(context.session, context.party.conversation.id, chosen, now=context.now)
    return chosen


async def _ask_rating_if_due(context: Context, application: Application) -> None:
    """After the application's result reached the candidate, ask once how the process felt."""
    message = await sent_result(context.session, application)
    if message is None:
        return
    if await service.ask_rating_once(
        context.session,
        message,
        context.candidate.id,
        context.party.conversation.id,
        now=context.now,
    ):
        context.dispatcher.utter_message(response="utter_ask_rating")


def _expected(context: Context, state: Progress) -> str:
    if state.expected_by is None:
        return ""
    return texts.say(
        "expected_by", context.locale, date=texts.day(state.expected_by, context.locale)
    )


class ActionCheckProgress(CandorAction):
    def name(self) -> str:
        return "action_check_progress"

    async def act(self, context: Context) -> Events:
        application = await _application(context, "ask_progress")
        if application is None:
            return _forget_code()
        state = await progress(context.session, application, context.settings)
        locale = context.locale
        lines = [
            texts.say(
                "progress",
                locale,
                job=state.job.title,
                code=application.code,
                stage=texts.label(texts.STAGES, state.stage, locale),  # type: ignore[arg-type]
                event=texts.label(texts.EVENTS, state.last_event, locale),  # type: ignore[arg-type]
                when=texts.moment(state.last_event_at, locale),
            )
        ]
        if state.status is not None:
            status = texts.label(texts.STATUSES, state.status, locale)  # type: ignore[arg-type]
            lines.append(texts.say("progress_status", locale, status=status))
        if state.next_interview is not None and state.next_interview.scheduled_at is not None:
            lines.append(
                texts.say(
                    "scheduled_at",
                    locale,
                    when=texts.moment(
                        state.next_interview.scheduled_at, locale, candidate_zone(context.candidate)
                    ),
                )
            )
        if expected := _expected(context, state):
            lines.append(expected)
        if offer := _notification_offer(context, state):
            lines.append(offer)
        context.dispatcher.utter_message(
            text="".join(lines) if locale.value == "zh-CN" else " ".join(lines)
        )
        await _ask_rating_if_due(context, application)
        return [SlotSet("application_code", application.code)]


def _notification_offer(context: Context, state: Progress) -> str | None:
    """A one-time subscription prompt, so WeChat lets us notify the candidate of the result
    even outside the 48-hour customer-service window: offered to a consenting WeChat candidate
    whose result is pending, once per conversation history the tracker holds."""
    settings = context.settings
    template_id = settings.wechat_subscription_template_id
    identity = context.party.identity
    if (
        template_id is None
        or settings.wechat_app_id is None
        or identity.channel is not Channel.WECHAT
        or not context.candidate.consent_wechat_subscription
        or state.expected_by is None
        or state.sent_result is not None
        or _prompt_sent_before(context)
    ):
        return None
    link = prompt_link(
        settings.secret_key.get_secret_value(),
        app_id=settings.wechat_app_id,
        openid=identity.external_user_id,
        template_id=template_id,
        scene=state.application.id % (MAX_SCENE + 1),
        redirect_url=f"{settings.public_url.rstrip('/')}/wechat/subscribe",
    )
    return texts.say("notify_offer", context.locale, link=link)


def _prompt_sent_before(context: Context) -> bool:
    return any(
        event.get("event") == "bot" and PROMPT_URL in str(event.get("text") or "")
        for event in context.tracker.events
    )


def _interview_of(application: Application, interview_id: int | None) -> Interview | None:
    return next((i for i in application.interviews if i.id == interview_id), None)


class ActionExplainFeedback(CandorAction):
    def name(self) -> str:
        return "action_explain_feedback"

    async def act(self, context: Context) -> Events:
        application = await _application(context, "ask_feedback")
        if application is None:
            return _forget_code()
        state = await progress(context.session, application, context.settings)
        locale = context.locale
        message = state.sent_result
        released = released_at(message) if message is not None else None
        if message is None or released is None:
            context.say("no_feedback_yet", expected=_expected(context, state))
            return []
        lines = [
            texts.say(
                "feedback",
                locale,
                job=state.job.title,
                date=texts.local_day(released, locale),
            )
        ]
        interview = _interview_of(application, message.interview_id)
        if interview is not None and interview.report_summary:
            lines.append(texts.say("feedback_summary", locale, text=interview.report_summary))
        if interview is not None and interview.strengths:
            lines.append(
                texts.say(
                    "feedback_strengths", locale, items=texts.joined(interview.strengths, locale)
                )
            )
        if interview is not None and interview.improvements:
            lines.append(
                texts.say(
                    "feedback_improvements",
                    locale,
                    items=texts.joined(interview.improvements, locale),
                )
            )
        if len(lines) == 1:
            lines.append(texts.say("feedback_message", locale, body=message.body))
        context.dispatcher.utter_message(text="\n".join(lines))
        await _ask_rating_if_due(context, application)
        return [SlotSet("application_code", application.code)]


class ActionNextStep(CandorAction):
    def name(self) -> str:
        return "action_next_step"

    async def act(self, context: Context) -> Events:
        application = await _application(context, "ask_next_step")
        if application is None:
            return _forget_code()
        state = await progress(context.session, application, context.settings)
        locale = context.locale
        lines: list[str] = []
        message = state.sent_result
        if message is not None and message.outcome is Decision.ADVANCE:
            interview = _interview_of(application, message.interview_id)
            if interview is not None and interview.next_steps:
                lines.append(texts.say("next_step", locale, text=interview.next_steps))
        upcoming = state.next_interview
        if upcoming is not None and upcoming.scheduled_at is not None:
            kind = texts.label(texts.STAGES, INTERVIEW_STAGE[upcoming.kind], locale)  # type: ignore[arg-type]
            lines.append(
                texts.say(
                    "next_interview",
                    locale,
                    kind=kind,
                    when=texts.moment(
                        upcoming.scheduled_at, locale, candidate_zone(context.candidate)
                    ),
                )
            )
        invitation = await scheduling.invitation_of(context.session, application.id)
        if invitation is not None and invitation.state is InvitationState.OPEN:
            # Invited to book the next round: the free times are the next step.
            if lines:
                context.dispatcher.utter_message(text="\n".join(lines))
            if await offer_slots(context, invitation, intro="slots_offer"):
                return [SlotSet("application_code", application.code)]
            if lines:
                return [SlotSet("application_code", application.code)]
        if not lines:
            lines.append(texts.say("no_next_step", locale))
            if expected := _expected(context, state):
                lines.append(expected)
        context.dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("application_code", application.code)]


class ActionWithdraw(CandorAction):
    def name(self) -> str:
        return "action_withdraw"

    async def act(self, context: Context) -> Events:
        application = await _application(context, "withdraw")
        if application is None:
            return _forget_code()
        withdrawn = await service.withdraw(
            context.session, application, context.party.conversation, now=context.now
        )
        if withdrawn:
            context.say("withdrawn", job=application.job.title)
        else:
            context.say("already_withdrawn")
        return [SlotSet("application_code", None)]


class ActionConfirmNextRound(CandorAction):
    """A yes with no question pending. The advance message asks the candidate to reply
    "确认" ("confirm"): when their latest result is an advance, this is that confirmation,
    recorded for HR once; otherwise it is simply acknowledged."""

    def name(self) -> str:
        return "action_confirm_next_round"

    async def act(self, context: Context) -> Events:
        message = await latest_result(context.session, context.candidate.id)
        if message is None or message.outcome is not Decision.ADVANCE:
            context.say("acknowledged")
            return []
        application = await context.session.get_one(Application, message.application_id)
        await teams.concern(
            context.session, context.party.conversation.id, application, now=context.now
        )
        await service.confirm_next_round(
            context.session,
            application=application,
            message=message,
            channel=context.party.identity.channel,
            now=context.now,
        )
        job = await context.session.get_one(Job, application.job_id)
        context.say("next_round_confirmed", job=job.title)
        return [SlotSet("application_code", application.code)]
