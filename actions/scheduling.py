"""The candidate books, moves and cancels their next interview in chat (issue 14).

Buttons carry what words cannot: `/choose_slot{"slot_id": ...}` holds a seat,
`/confirm_booking{"booking_id": ...}` confirms it (the booking's public id, never a row id),
`/more_slots{"after": ...}` pages on, `/none_fit` asks for the candidate's own times (the
proposal form) and `/cancel_booking{"booking_id": ...}` cancels. A typed request to move or
cancel is the `reschedule` intent. Past the job's policy, or with no free time that fits,
the request goes to HR as before. Every refusal of the scheduling service is answered in
words, and ids of other candidates' bookings reveal nothing.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk.events import SlotSet  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from actions import texts
from actions.base import CandorAction, Context, Events
from actions.candidate import ActionNextStep, _application, _forget_code
from actions.slot_offers import (
    kind_label,
    offer_slots,
    open_invitations,
    parse_stamp,
    slot_place,
    slot_time,
)
from candor.dialogue import service
from candor.dialogue.queries import progress
from candor.models import Application, InterviewBooking, InterviewSlot, Job
from candor.models.scheduling import (
    DEFAULT_MOVE_CUTOFF_HOURS,
    BookingState,
    InvitationState,
    SchedulingInvitation,
    SchedulingPolicy,
)
from candor.scheduling import service as scheduling
from candor.scheduling.errors import (
    BookingNotFoundError,
    ChangeNotAllowedError,
    HoldLapsedError,
    NoInvitationError,
    SlotNotFoundError,
    SlotTakenError,
    SlotTooSoonError,
)
from candor.scheduling.links import ics_url
from candor.scheduling.notices import candidate_zone
from candor.scheduling.preferences import parse_preference

CANCEL = "cancel"  # the `booking_change` entity's value for a request to cancel


def _entity(context: Context, name: str) -> str | None:
    values = list(context.tracker.get_latest_entity_values(name))
    return str(values[0]) if values else None


def _said(context: Context) -> str:
    return str(context.tracker.latest_message.get("text") or "").strip()[:500]


def _joined(context: Context, parts: list[str]) -> str:
    return ("" if context.locale.value == "zh-CN" else " ").join(parts)


def _when(context: Context, slot: InterviewSlot) -> str:
    zone = candidate_zone(context.candidate)
    return f"{slot_time(slot, zone, context.locale)} ({texts.zone_label(zone, context.locale)})"


async def to_hr(
    context: Context,
    application: Application,
    *,
    lead: str | None = None,
    request: str | None = None,
    extra: dict[str, Any] | None = None,
    answer: str | None = None,
) -> Events:
    """The request becomes (or adds to) HR's reschedule task for the application."""
    if request is None:
        said = _said(context)
        # A button's payload is machine syntax (and UTC): HR and the candidate read words.
        request = texts.say("change_by_button", context.locale) if said.startswith("/") else said
    state = await progress(context.session, application, context.settings)
    details: dict[str, Any] = {"application_code": application.code, **(extra or {})}
    if state.next_interview is not None and state.next_interview.scheduled_at is not None:
        details["interview_at"] = state.next_interview.scheduled_at.isoformat()
    _, new = await service.request_reschedule(
        context.session,
        conversation=context.party.conversation,
        application=application,
        request=request,
        details=details,
        now=context.now,
    )
    key = answer or ("reschedule_logged" if new else "reschedule_follow_up")
    lead_text = [texts.say(lead, context.locale)] if lead else []
    said = texts.say(key, context.locale, request=request)
    context.dispatcher.utter_message(text=_joined(context, [*lead_text, said]))
    return [SlotSet("application_code", application.code)]


async def _application_of(context: Context, invitation: SchedulingInvitation) -> Application:
    """The invitation's application, loaded as the progress answer reads it."""
    application = await context.session.scalar(
        select(Application)
        .where(Application.id == invitation.application_id)
        .options(selectinload(Application.job), selectinload(Application.interviews))
        .execution_options(populate_existing=True)
    )
    assert application is not None  # the invitation's foreign key
    return application


async def _own_booking(
    context: Context, public_id: str | None
) -> tuple[InterviewBooking, SchedulingInvitation] | None:
    """The candidate's own booking with this public id; None for anyone else's or none."""
    if not public_id or len(public_id) > 64:
        return None
    booking = await context.session.scalar(
        select(InterviewBooking)
        .join(Application, Application.id == InterviewBooking.application_id)
        .where(
            InterviewBooking.public_id == public_id,
            Application.candidate_id == context.candidate.id,
        )
    )
    if booking is None:
        return None
    invitation = await context.session.get_one(SchedulingInvitation, booking.invitation_id)
    return booking, invitation


async def _offer_after_refusal(
    context: Context, invitation: SchedulingInvitation, reason: str
) -> None:
    context.say(reason)
    moving = await scheduling.confirmed_booking(context.session, invitation) is not None
    shown = await offer_slots(
        context, invitation, intro="slots_offer_move" if moving else "slots_offer"
    )
    if not shown:
        _say_no_slots(context)


def _say_no_slots(context: Context) -> None:
    context.dispatcher.utter_message(
        text=texts.say("slots_none", context.locale),
        buttons=[{"title": texts.say("slot_none_fit", context.locale), "payload": "/none_fit"}],
    )


async def _may_move(
    context: Context, invitation: SchedulingInvitation, booking: InterviewBooking
) -> bool:
    try:
        await scheduling.check_change_allowed(
            context.session, invitation, booking, moving=True, now=context.now
        )
    except ChangeNotAllowedError:
        return False
    return True


class ActionOfferSlots(CandorAction):
    """`/book_interview` (the advance message's button) and `/more_slots{"after": ...}`."""

    ends_forms = True

    def name(self) -> str:
        return "action_offer_slots"

    async def act(self, context: Context) -> Events:
        invitations = await open_invitations(context)
        if not invitations:
            return await ActionNextStep().act(context)
        invitation = invitations[0]
        after = parse_stamp(_entity(context, "after"))
        booked = await scheduling.confirmed_booking(context.session, invitation)
        if booked is not None:
            application = await _application_of(context, invitation)
            if after is None and context.tracker.get_intent_of_latest_message() != "more_slots":
                slot = await context.session.get_one(InterviewSlot, booked.slot_id)
                context.say("booking_already", when=_when(context, slot))
                return [SlotSet("application_code", application.code)]
            if not await _may_move(context, invitation, booked):
                return await to_hr(context, application, lead="change_past_policy")
        intro = "slots_offer_more" if after is not None else "slots_offer"
        if booked is not None and after is None:
            intro = "slots_offer_move"
        if not await offer_slots(context, invitation, intro=intro, after=after):
            _say_no_slots(context)
        application = await _application_of(context, invitation)
        return [SlotSet("application_code", application.code)]


class ActionHoldSlot(CandorAction):
    """`/choose_slot{"slot_id": ...}`: hold a seat, then ask to confirm."""

    ends_forms = True

    def name(self) -> str:
        return "action_hold_slot"

    async def act(self, context: Context) -> Events:
        invitations = await open_invitations(context)
        if not invitations:
            return await ActionNextStep().act(context)
        raw = _entity(context, "slot_id") or ""
        # A payload anyone can type: only a plain id the column can hold is looked up.
        slot = (
            await context.session.get(InterviewSlot, int(raw))
            if re.fullmatch(r"[0-9]{1,15}", raw)
            else None
        )
        invitation = next(
            (
                i
                for i in invitations
                if slot is not None and i.job_id == slot.job_id and i.round == slot.round
            ),
            invitations[0],
        )
        application = await _application_of(context, invitation)
        events: Events = [SlotSet("application_code", application.code)]
        if slot is None:
            await _offer_after_refusal(context, invitation, "slot_gone")
            return events
        current = await scheduling.confirmed_booking(context.session, invitation)
        if (
            current is not None
            and current.slot_id != slot.id
            and not await _may_move(context, invitation, current)
        ):
            return await to_hr(context, application, lead="change_past_policy")
        try:
            booking = await scheduling.hold(
                context.session, invitation, slot.id, by=scheduling.CANDIDATE, now=context.now
            )
        except SlotTakenError:
            await _offer_after_refusal(context, invitation, "slot_taken")
            return events
        except SlotTooSoonError:
            await _offer_after_refusal(context, invitation, "slot_too_soon")
            return events
        except SlotNotFoundError:
            await _offer_after_refusal(context, invitation, "slot_gone")
            return events
        except NoInvitationError:
            return await ActionNextStep().act(context)
        if booking.state is BookingState.CONFIRMED:
            context.say("booking_already", when=_when(context, slot))
            return events
        policy = await context.session.get(SchedulingPolicy, invitation.job_id)
        context.dispatcher.utter_message(
            text=texts.say(
                "slot_held",
                context.locale,
                when=_when(context, slot),
                place=slot_place(slot, context.locale),
                minutes=policy.hold_minutes if policy is not None else 10,
            ),
            buttons=[
                {
                    "title": texts.say("slot_confirm", context.locale),
                    "payload": f'/confirm_booking{{"booking_id": "{booking.public_id}"}}',
                },
                {"title": texts.say("slot_other_times", context.locale), "payload": "/more_slots"},
            ],
        )
        return events


async def _pressed_booking(
    context: Context,
) -> tuple[InterviewBooking, SchedulingInvitation, Application, InterviewSlot] | None:
    """The candidate's own booking a button names, with its invitation, application and
    slot; None (after saying so) for a foreign or made-up id."""
    found = await _own_booking(context, _entity(context, "booking_id"))
    if found is None:
        context.say("booking_not_found")
        return None
    booking, invitation = found
    application = await _application_of(context, invitation)
    slot = await context.session.get_one(InterviewSlot, booking.slot_id)
    return booking, invitation, application, slot


class ActionConfirmBooking(CandorAction):
    """`/confirm_booking{"booking_id": ...}`: the held time becomes the interview (and the
    time it replaces, if any, is let go)."""

    ends_forms = True

    def name(self) -> str:
        return "action_confirm_booking"

    async def act(self, context: Context) -> Events:
        pressed = await _pressed_booking(context)
        if pressed is None:
            return []
        booking, invitation, application, slot = pressed
        events: Events = [SlotSet("application_code", application.code)]
        if booking.state is BookingState.CONFIRMED:
            context.say("booking_already", when=_when(context, slot))
            return events
        previous = await scheduling.confirmed_booking(context.session, invitation)
        if (
            booking.state is BookingState.HELD
            and previous is not None
            and not await _may_move(context, invitation, previous)
        ):
            return await to_hr(context, application, lead="change_past_policy")
        if invitation.state is InvitationState.CLOSED:
            context.say("booking_not_found")
            return events
        try:
            confirmed, changed = await scheduling.confirm(
                context.session,
                invitation,
                booking.public_id,
                by=scheduling.CANDIDATE,
                now=context.now,
            )
        except (HoldLapsedError, BookingNotFoundError):
            await _offer_after_refusal(context, invitation, "hold_lapsed")
            return events
        except SlotTooSoonError:
            await _offer_after_refusal(context, invitation, "slot_too_soon")
            return events
        if not changed:
            context.say("booking_already", when=_when(context, slot))
            return events
        await self._confirmation(context, invitation, confirmed, slot, moved=previous is not None)
        return events

    async def _confirmation(
        self,
        context: Context,
        invitation: SchedulingInvitation,
        booking: InterviewBooking,
        slot: InterviewSlot,
        *,
        moved: bool,
    ) -> None:
        locale = context.locale
        job = await context.session.get_one(Job, invitation.job_id)
        policy = await context.session.get(SchedulingPolicy, invitation.job_id)
        lines = [
            texts.say(
                "booking_moved" if moved else "booking_confirmed",
                locale,
                job=job.title,
                kind=kind_label(invitation, locale),
                when=_when(context, slot),
            )
        ]
        if slot.location:
            lines.append(texts.say("booking_place", locale, place=slot.location))
        if slot.video_link:
            lines.append(texts.say("booking_video", locale, link=slot.video_link))
        if slot.interviewers:
            names = ("、" if locale.value == "zh-CN" else ", ").join(slot.interviewers)
            lines.append(texts.say("booking_interviewers", locale, names=names))
        if policy is not None and policy.preparation.strip():
            lines.append(texts.say("booking_preparation", locale, text=policy.preparation.strip()))
        lines.append(
            texts.say("booking_calendar", locale, url=ics_url(context.settings, booking.public_id))
        )
        lines.append(
            texts.say(
                "booking_change_hint",
                locale,
                hours=policy.move_cutoff_hours if policy is not None else DEFAULT_MOVE_CUTOFF_HOURS,
            )
        )
        context.dispatcher.utter_message(text="\n".join(lines))


class ActionCancelBooking(CandorAction):
    """`/cancel_booking{"booking_id": ...}`, the answer to the cancellation question."""

    ends_forms = True

    def name(self) -> str:
        return "action_cancel_booking"

    async def act(self, context: Context) -> Events:
        pressed = await _pressed_booking(context)
        if pressed is None:
            return []
        booking, invitation, application, slot = pressed
        events: Events = [SlotSet("application_code", application.code)]
        if booking.state is BookingState.CANCELLED:
            context.say("booking_already_cancelled")
            return events
        if booking.state is not BookingState.CONFIRMED:
            context.say("booking_not_found")
            return events
        try:
            await scheduling.cancel(
                context.session,
                invitation,
                booking.public_id,
                by=scheduling.CANDIDATE,
                now=context.now,
                reason=_said(context) if not _said(context).startswith("/") else None,
            )
        except ChangeNotAllowedError:
            return await to_hr(context, application, lead="change_past_policy")
        except BookingNotFoundError:  # HR moved or cancelled it since this turn read it
            context.say("booking_not_found")
            return events
        context.dispatcher.utter_message(
            text=texts.say("booking_cancelled", context.locale, when=_when(context, slot)),
            buttons=[
                {"title": texts.say("book_again", context.locale), "payload": "/book_interview"}
            ],
        )
        return events


class ActionReschedule(CandorAction):
    """A request to move, postpone or cancel (typed, or "I can't make it" to a reminder):
    within the job's policy the candidate does it here, with the free times that fit what
    they asked for; otherwise HR gets the request, as before self-scheduling."""

    def name(self) -> str:
        return "action_reschedule"

    async def act(self, context: Context) -> Events:
        application = await _application(context, "reschedule")
        if application is None:
            return _forget_code()
        invitation = await scheduling.invitation_of(context.session, application.id)
        if invitation is None:
            return await to_hr(context, application)
        booking = await scheduling.confirmed_booking(context.session, invitation)
        cancelling = _entity(context, "booking_change") == CANCEL
        events: Events = [SlotSet("application_code", application.code)]
        if booking is None:
            if cancelling:
                return await to_hr(context, application)
            # Not booked yet: "can't make it" to the invitation is a wish for other times.
            if not await offer_slots(context, invitation, intro="slots_offer"):
                return await to_hr(context, application)
            return events
        try:
            await scheduling.check_change_allowed(
                context.session, invitation, booking, moving=not cancelling, now=context.now
            )
        except ChangeNotAllowedError:
            return await to_hr(context, application, lead="change_past_policy")
        slot = await context.session.get_one(InterviewSlot, booking.slot_id)
        if cancelling:
            context.dispatcher.utter_message(
                text=texts.say("booking_cancel_ask", context.locale, when=_when(context, slot)),
                buttons=[
                    {
                        "title": texts.say("booking_cancel_yes", context.locale),
                        "payload": f'/cancel_booking{{"booking_id": "{booking.public_id}"}}',
                    },
                    {
                        "title": texts.say("booking_cancel_move", context.locale),
                        "payload": "/more_slots",
                    },
                    {"title": texts.say("booking_cancel_keep", context.locale), "payload": "/deny"},
                ],
            )
            return events
        zone = candidate_zone(context.candidate)
        preference = parse_preference(_said(context), context.now.astimezone(zone).date())
        shown = await offer_slots(
            context,
            invitation,
            intro="slots_offer_move",
            accept=None if preference.is_empty else lambda s: preference.accepts(s.starts_at, zone),
        )
        if not shown:
            return await to_hr(context, application)
        return events


class ActionSubmitProposal(CandorAction):
    """After the proposal form: none of the offered times work, and these are the
    candidate's own. HR confirms one (the reschedule task, with the proposal)."""

    def name(self) -> str:
        return "action_submit_proposal"

    async def act(self, context: Context) -> Events:
        proposed = str(context.tracker.get_slot("proposed_times") or "").strip()[:500]
        invitations = await open_invitations(context)
        if invitations:
            application: Application | None = await _application_of(context, invitations[0])
        else:
            application = await _application(context, "ask_next_step")
        if application is None:
            return [SlotSet("proposed_times", None), *_forget_code()]
        await to_hr(
            context,
            application,
            request=proposed,
            extra={"proposed_times": proposed},
            answer="proposal_logged",
        )
        return [SlotSet("proposed_times", None), SlotSet("application_code", application.code)]
