"""iCalendar both ways: the `.ics` a confirmation carries, and slots read from an ICS feed
file HR exports from their calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Event

from candor.models.scheduling import BUSINESS_ZONE, InterviewSlot
from candor.scheduling.errors import InvalidSlotError
from candor.scheduling.slots import SlotSpec, zone

MAX_FEED_BYTES = 2_000_000
PRODID = "-//Candor//Interview scheduling//EN"
# Properties an event has at most once (RFC 5545); a file repeating one is not trusted.
ONCE_ONLY = ("uid", "status", "location", "url", "dtstart", "dtend", "duration")


def booking_ics(
    slot: InterviewSlot,
    *,
    booking_id: str,
    title: str,
    description: str,
    cancelled: bool = False,
    sequence: int = 0,
    now: datetime,
) -> bytes:
    """One event for the booked slot; a cancellation is the same UID with METHOD:CANCEL, so
    calendars remove the event they imported."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"{booking_id}@candor")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", slot.starts_at.astimezone(UTC))
    event.add("dtend", slot.ends_at.astimezone(UTC))
    event.add("summary", title)
    event.add("sequence", sequence)
    if description:
        event.add("description", description)
    place = slot.video_link or slot.location
    if place:
        event.add("location", place)
    if slot.video_link:
        event.add("url", slot.video_link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _moment(value: object, tz: ZoneInfo, what: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        raise InvalidSlotError(f"{what}: an all-day event is not an interview slot")
    raise InvalidSlotError(f"{what}: no start and end time")


def _value(event: Component, name: str, label: str) -> Any:
    prop = event.get(name)
    if isinstance(prop, list):
        raise InvalidSlotError(f"{label}: more than one {name.upper()}")
    return prop.dt


def parse_feed(
    data: bytes, *, default_zone: str = BUSINESS_ZONE, capacity: int = 1
) -> tuple[list[SlotSpec], list[str]]:
    """The slots of every timed event of the file, and the events skipped with why (all-day,
    cancelled, recurring). A file that is not iCalendar at all is an `InvalidSlotError`."""
    if len(data) > MAX_FEED_BYTES:
        raise InvalidSlotError("the ICS file is larger than 2 MB", code="invalid_ics")
    tz = zone(default_zone)
    try:
        calendar = Calendar.from_ical(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, IndexError, KeyError) as error:
        raise InvalidSlotError(
            f"not an iCalendar file: {str(error)[:200]}", code="invalid_ics"
        ) from error
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise InvalidSlotError("not an iCalendar file: no VCALENDAR", code="invalid_ics")
    specs: list[SlotSpec] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for index, event in enumerate(calendar.walk("VEVENT"), start=1):
        repeated = [name for name in ONCE_ONLY if isinstance(event.get(name), list)]
        if repeated:
            skipped.append(f"event {index}: more than one {repeated[0].upper()}")
            continue
        uid = str(event.get("uid") or "").strip()
        label = f"event {index}" + (f" ({uid})" if uid else "")
        if not uid:
            skipped.append(f"{label}: no UID, so a re-import could not update it")
            continue
        if str(event.get("status") or "").upper() == "CANCELLED":
            skipped.append(f"{label}: cancelled")
            continue
        if uid[:255] in seen:
            # e.g. a RECURRENCE-ID override of a recurring event: one UID, one slot.
            skipped.append(f"{label}: repeats the UID of an earlier event")
            continue
        seen.add(uid[:255])
        if event.get("rrule") is not None:
            skipped.append(f"{label}: recurring events are not imported; use weekly windows")
            continue
        if event.get("dtstart") is None:
            skipped.append(f"{label}: no start")
            continue
        try:
            start = _moment(_value(event, "dtstart", label), tz, label)
            if event.get("dtend") is not None:
                end = _moment(_value(event, "dtend", label), tz, label)
            elif event.get("duration") is not None:
                end = start + _value(event, "duration", label)
            else:
                end = start + timedelta(hours=1)
        except InvalidSlotError as error:
            skipped.append(error.message)
            continue
        except (ValueError, TypeError):
            # icalendar reads a malformed value lazily: it fails here, not in from_ical.
            skipped.append(f"{label}: its start, end or duration cannot be read")
            continue
        if end <= start:
            skipped.append(f"{label}: ends before it starts")
            continue
        location = str(event.get("location") or "").strip() or None
        url = str(event.get("url") or "").strip() or None
        specs.append(
            SlotSpec(
                starts_at=start,
                ends_at=end,
                capacity=capacity,
                location=location[:300] if location else None,
                video_link=url[:1000] if url and url.startswith(("https://", "http://")) else None,
                time_zone=default_zone,
                external_uid=uid[:255],
            )
        )
    return specs, skipped
