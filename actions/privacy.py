"""The candidate's rights over their data in chat: a copy of it (PIPL Art. 45), and deletion
(Art. 47): asking, then confirming, or cancelling a request still in its cooling-off period.
Only a bound candidate gets here: `CandorAction` answers an unbound chat that it is not linked
(and how to bind), and reveals nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from actions import texts
from actions.base import CandorAction, Context, Events
from actions.candidate import ActionConfirmNextRound
from candor.dialogue.queries import latest_result
from candor.models import ChatMessage, DeletionRequest
from candor.models.chat import Direction
from candor.models.privacy import DeletionState
from candor.privacy import deletion, service
from candor.privacy.errors import (
    DeletionAlreadyRequestedError,
    DeletionConfirmationExpiredError,
    DeletionNotRequestedError,
)
from candor.privacy.service import MAX_EXPORTS_PER_DAY, TooManyExportsError


def _buttons(context: Context, yes: str, no: str) -> list[dict[str, str]]:
    # Channels without buttons show them as text; a typed yes / 确认 is the same `affirm`.
    return [
        {"title": texts.say(yes, context.locale), "payload": "/affirm"},
        {"title": texts.say(no, context.locale), "payload": "/deny"},
    ]


def _erase_day(context: Context, request: DeletionRequest) -> str:
    moment = request.erase_after or context.now
    return texts.local_day(moment, context.locale)


DELETION_QUESTION = "action_request_data_deletion"


class ActionRequestDataDeletion(CandorAction):
    def name(self) -> str:
        return DELETION_QUESTION

    async def act(self, context: Context) -> Events:
        try:
            await deletion.ask_in_chat(
                context.session, context.candidate, settings=context.settings, now=context.now
            )
        except DeletionAlreadyRequestedError:
            request = await deletion.open_request(context.session, context.candidate.id)
            if request is not None and request.state is DeletionState.PENDING:
                context.dispatcher.utter_message(
                    text=texts.say(
                        "deletion_open", context.locale, date=_erase_day(context, request)
                    ),
                    buttons=_buttons(context, "deletion_cancel_yes", "deletion_cancel_no"),
                )
                return []
            if request is not None and request.state is DeletionState.ERASING:
                context.say("deletion_started")
                return []
            # Asked a moment ago and not confirmed yet: ask again below.
        context.dispatcher.utter_message(
            text=texts.say(
                "deletion_confirm",
                context.locale,
                days=context.settings.privacy_deletion_cooling_off_days,
                minutes=context.settings.privacy_deletion_confirm_minutes,
            ),
            buttons=_buttons(context, "deletion_yes", "deletion_no"),
        )
        return []


class ActionAnswerDataDeletion(CandorAction):
    """The yes or no after the deletion question: confirm or decline a new request, or
    cancel or keep one in its cooling-off period. Only when nothing else reached the
    candidate since the question: a result's "回复确认" or HR's message in between makes a
    yes theirs (the generic yes runs), and the request stays as it was."""

    def name(self) -> str:
        return "action_answer_data_deletion"

    async def act(self, context: Context) -> Events:
        intent = (context.tracker.latest_message.get("intent") or {}).get("name")
        yes = intent == "affirm"
        session, candidate = context.session, context.candidate
        request = await deletion.latest_request(session, candidate.id)
        asked_at = _deletion_question_asked_at(context.tracker.events)
        if asked_at is None or await _told_since(context, asked_at):
            # Something else was said to them after the question (a result inviting
            # "回复确认", HR's message): this yes or no answers that, never the deletion.
            events: Events = []
            if yes:
                events = await ActionConfirmNextRound().act(context)
            if request is not None and request.state is DeletionState.AWAITING_CONFIRMATION:
                context.say("deletion_not_confirmed")
            return events
        if request is not None and request.state is DeletionState.PENDING:
            if yes:
                await deletion.cancel(session, candidate.id, actor="candidate", now=context.now)
                context.say("deletion_cancelled")
            else:
                context.say("deletion_kept")
            return []
        if request is None or request.state not in (
            DeletionState.AWAITING_CONFIRMATION,
            DeletionState.EXPIRED,
        ):
            context.say("deletion_nothing_open")
            return []
        if not yes:
            if request.state is DeletionState.AWAITING_CONFIRMATION:
                await deletion.cancel(session, candidate.id, actor="candidate", now=context.now)
            context.say("deletion_declined")
            return []
        try:
            confirmed = await deletion.confirm_in_chat(
                session, candidate, settings=context.settings, now=context.now
            )
        except DeletionConfirmationExpiredError:
            context.say("deletion_expired")
            return []
        except DeletionNotRequestedError:
            context.say(
                "deletion_expired"
                if request.state is DeletionState.EXPIRED
                else "deletion_nothing_open"
            )
            return []
        context.say("deletion_opened", date=_erase_day(context, confirmed))
        return []


def _deletion_question_asked_at(events: list[dict[str, Any]]) -> datetime | None:
    """When the deletion question this turn answers was asked: the time of the candidate's
    message that `action_request_data_deletion` answered (Rasa and the embedded engine
    stamp every user event)."""
    asked = False
    for event in reversed(events):
        if event.get("event") == "action" and event.get("name") == DELETION_QUESTION:
            asked = True
        elif asked and event.get("event") == "user" and event.get("timestamp") is not None:
            return datetime.fromtimestamp(float(event["timestamp"]), UTC)
    return None


async def _told_since(context: Context, asked_at: datetime) -> bool:
    """Whether anything but the dialogue's own replies reached the candidate after
    `asked_at`: a result message (on any channel), or a chat message from HR or Candor."""
    result = await latest_result(context.session, context.candidate.id)
    if result is not None and result.sent_at is not None and result.sent_at > asked_at:
        return True
    other = await context.session.scalar(
        select(ChatMessage.id)
        .where(
            ChatMessage.candidate_id == context.candidate.id,
            ChatMessage.direction == Direction.OUTBOUND,
            ChatMessage.at > asked_at,
            or_(ChatMessage.author.is_(None), ChatMessage.author.not_like("engine:%")),
        )
        .limit(1)
    )
    return other is not None


class ActionRequestDataExport(CandorAction):
    """A single-use, expiring download link to a JSON copy of everything Candor holds about
    the bound candidate. The unbound are refused by `CandorAction` (told how to bind)."""

    def name(self) -> str:
        return "action_request_data_export"

    async def act(self, context: Context) -> Events:
        hours = context.settings.data_export_link_hours
        try:
            issued = await service.create_link(
                context.session,
                context.candidate,
                via=f"chat:{context.party.identity.channel.value}",
                valid_for=timedelta(hours=hours),
                now=context.now,
            )
        except TooManyExportsError:
            context.say("data_export_limit", count=MAX_EXPORTS_PER_DAY)
            return []
        context.say("data_export_ready", hours=hours, url=issued.url(context.settings.public_url))
        return []
