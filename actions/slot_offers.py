"""Free interview times offered as buttons, and how a time reads to the candidate: in their
own zone (China time unless their profile names another), e.g. 12月10日（周四）14:00–14:45.
Shared by the next-step answer and the scheduling actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from actions import texts
from actions.base import Context
from candor.dialogue.queries import own_applications
from candor.models import InterviewSlot, Job
from candor.models.enums import INTERVIEW_STAGE, Locale
from candor.models.scheduling import SchedulingInvitation
from candor.scheduling import service as scheduling
from candor.scheduling.notices import candidate_zone
from candor.sla.service import current_calendar

SHOWN_PLACE_LENGTH = 24  # a button title stays short; the confirmation has the full place


def slot_time(slot: InterviewSlot, zone: ZoneInfo, locale: Locale) -> str:
    start, end = slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone)
    hours = f"{start:%H:%M}–{end:%H:%M}"
    if locale is Locale.EN:
        return f"{start:%a} {start.day} {start:%b}, {hours}"
    weekday = "一二三四五六日"[start.weekday()]
    return f"{start.month}月{start.day}日（周{weekday}）{hours}"


def slot_place(slot: InterviewSlot, locale: Locale) -> str:
    if slot.location:
        return slot.location
    return texts.say("video", locale)


def kind_label(invitation: SchedulingInvitation, locale: Locale) -> str:
    return texts.label(texts.STAGES, INTERVIEW_STAGE[invitation.kind], locale)  # type: ignore[arg-type]


def _title(slot: InterviewSlot, zone: ZoneInfo, locale: Locale) -> str:
    place = slot_place(slot, locale)
    if len(place) > SHOWN_PLACE_LENGTH:
        place = place[: SHOWN_PLACE_LENGTH - 1] + "…"
    return f"{slot_time(slot, zone, locale)} · {place}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: object) -> datetime | None:
    """The `after` of a "more times" button; None for anything that is not one."""
    try:
        parsed = datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC)


async def open_invitations(context: Context) -> list[SchedulingInvitation]:
    """The candidate's invitations that are not closed: the one of the application the
    conversation is about first (named in the message, or the one the last offer was for,
    so "more times" pages through the same job's times), then newest application first."""
    named = _named_code(context)
    found: list[SchedulingInvitation] = []
    for application in await own_applications(context.session, context.candidate.id):
        invitation = await scheduling.invitation_of(context.session, application.id)
        if invitation is None:
            continue
        if named is not None and application.code.upper() == named:
            found.insert(0, invitation)
        else:
            found.append(invitation)
    return found


def _named_code(context: Context) -> str | None:
    values = list(context.tracker.get_latest_entity_values("application_code"))
    code = values[0] if values else context.tracker.get_slot("application_code")
    return str(code).upper() if code else None


async def offer_slots(
    context: Context,
    invitation: SchedulingInvitation,
    *,
    intro: str,
    after: datetime | None = None,
    accept: Callable[[InterviewSlot], bool] | None = None,
) -> bool:
    """The soonest free times as buttons, with "more times" and "none of these work".
    With `accept`, only the times it accepts, else (saying so) the soonest. False when
    there is no free time at all (nothing was said)."""
    calendar = await current_calendar(context.session)
    offers = await scheduling.offers(
        context.session, invitation, calendar, now=context.now, after=after, accept=accept
    )
    locale, zone = context.locale, candidate_zone(context.candidate)
    lead: list[str] = []
    if not offers and accept is not None:
        offers = await scheduling.offers(
            context.session, invitation, calendar, now=context.now, after=after
        )
        lead.append(texts.say("slots_no_fit", locale))
    if not offers:
        if after is None:
            return False
        lead = [texts.say("slots_none_left", locale)]
    else:
        job = await context.session.get_one(Job, invitation.job_id)
        lead.insert(
            0,
            texts.say(
                intro,
                locale,
                job=job.title,
                kind=kind_label(invitation, locale),
                zone=texts.zone_label(zone, locale),
            ),
        )
    buttons = [
        {
            "title": _title(offer.slot, zone, locale),
            "payload": f'/choose_slot{{"slot_id": "{offer.slot.id}"}}',
        }
        for offer in offers
    ]
    if offers:
        last = _stamp(offers[-1].slot.starts_at)
        buttons.append(
            {
                "title": texts.say("slot_more", locale),
                "payload": f'/more_slots{{"after": "{last}"}}',
            }
        )
    buttons.append({"title": texts.say("slot_none_fit", locale), "payload": "/none_fit"})
    context.dispatcher.utter_message(text="\n".join(lead), buttons=buttons)
    return True
