"""The interview calendar: a week of a team's slots with their seats and bookings, in China
time or another zone the viewer picks; forms to add slots (one, weekly windows, an ICS
file) and to set a job's policy; and on a booking, move, cancel or record attendance, the
candidate told in the same transaction.

Thin: each handler parses its form, calls one `candor.scheduling` function and goes back to
the week it came from with a status line, or shows the week again with the problem (a 4xx,
nothing written). Scoped like the API: a user sees their teams' jobs, an admin all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_time
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from api.console.deps import (
    CheckedForm,
    ConsoleUser,
    CurrentConsoleUser,
    form_text,
    form_textarea,
    not_found,
)
from api.console.i18n import N_, _, current_locale
from api.console.rendering import page
from api.deps import RuntimeDep, SessionDep
from candor.clock import BUSINESS_TZ, utcnow
from candor.errors import CandorError
from candor.ids import RowId, parse_row_id
from candor.models.enums import InterviewKind
from candor.models.scheduling import (
    BUSINESS_ZONE,
    DEFAULT_MOVE_CUTOFF_HOURS,
    Attendance,
    SlotSource,
)
from candor.scheduling import hr, service, slots
from candor.scheduling.errors import InvalidSlotError
from candor.scheduling.hr import SlotView
from candor.scheduling.ics import MAX_FEED_BYTES
from candor.sla.service import current_calendar

WEEKDAY_VALUES = frozenset("0123456")  # a form value names one weekday, 0 = Monday

router = APIRouter(prefix="/console/scheduling", include_in_schema=False)
BASE = "/console/scheduling"
# Zones the viewer may read the week in, besides China's and the slots' own.
VIEW_ZONES = (
    BUSINESS_ZONE,
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
DONE = {
    "slot": N_("Slot added."),
    "weekly": N_("Weekly slots added."),
    "imported": N_("ICS file imported."),
    "slot_cancelled": N_("Slot withdrawn."),
    "booked": N_("Booked; the candidate is told."),
    "moved": N_("Moved; the candidate is told."),
    "unchanged": N_("The candidate was already booked there."),
    "cancelled": N_("Interview cancelled; the candidate is told."),
    "attended": N_("Recorded: attended."),
    "no_show": N_("Recorded: no-show."),
    "policy": N_("Scheduling policy saved."),
}
# The people's words for the domain's error codes; a code not here shows its message.
PROBLEMS = {
    "slot_in_past": N_("That time has passed: a slot starts in the future."),
    "invalid_time_zone": N_("Unknown time zone."),
    "invalid_ics": N_("That file is not an iCalendar (.ics) file."),
    "no_slots": N_("Those windows make no slot on a working day."),
    "policy_not_found": N_("Set the job's scheduling policy first."),
    "job_not_found": N_("No such job in your teams."),
    "slot_not_found": N_("No such slot in your teams, or a slot of another interview."),
    "booking_not_found": N_("No such booking in your teams."),
    "application_not_found": N_("No such application in your teams."),
    "slot_taken": N_("Every seat of that slot is taken."),
    "slot_too_soon": N_("That slot has already started."),
    "no_invitation": N_("This job does not schedule interviews in Candor."),
    "change_not_allowed": N_(
        "Not now: a slot is withdrawn once its bookings are moved or cancelled, and "
        "attendance is recorded once the interview has begun."
    ),
    "invalid_slot": N_("Check the times, capacity, weekdays and video link."),
    "invalid_range": N_("Check the dates."),
    "invalid_form": N_("Fill in every required field."),
}
WEEKDAYS = (
    N_("Mon"),
    N_("Tue"),
    N_("Wed"),
    N_("Thu"),
    N_("Fri"),
    N_("Sat"),
    N_("Sun"),
)


@dataclass(frozen=True, slots=True)
class Filters:
    week: dt.date  # the Monday
    zone: ZoneInfo
    team_id: int | None
    job_id: int | None

    def query(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "week": self.week.isoformat(),
            "tz": self.zone.key,
            "team": self.team_id or "",
            "job": self.job_id or "",
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else BUSINESS_TZ
    except (ZoneInfoNotFoundError, ValueError):
        return BUSINESS_TZ


def _day(text: str | None) -> dt.date | None:
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2100 else None


def _filters(params: Any) -> Filters:
    zone = _zone(params.get("tz"))
    day = _day(params.get("week")) or utcnow().astimezone(zone).date()
    return Filters(
        week=day - dt.timedelta(days=day.weekday()),
        zone=zone,
        team_id=parse_row_id(params.get("team") or ""),
        job_id=parse_row_id(params.get("job") or ""),
    )


def _back(form: FormData) -> str:
    """The week the form was posted from (only ever a calendar address)."""
    back = form_text(form, "back")
    return back if back.startswith(f"{BASE}?") or back == BASE else BASE


def _moment(value: dt.datetime, zone: ZoneInfo) -> str:
    return format_time(value.astimezone(zone), "HH:mm", locale=current_locale())


def _problem(exc: CandorError) -> str:
    known = PROBLEMS.get(exc.code)
    return _(known) if known else exc.message


@dataclass(frozen=True, slots=True)
class Day:
    day: dt.date
    label: str
    weekday: str
    note: str | None  # a holiday or a make-up working day
    today: bool
    views: list[SlotView]


async def _calendar_page(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    filters: Filters,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    start = dt.datetime.combine(filters.week, dt.time(), filters.zone)
    end = start + dt.timedelta(days=7)
    views = await hr.calendar(
        session,
        user.principal,
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        team_id=filters.team_id,
        job_id=filters.job_id,
    )
    calendar = await current_calendar(session)
    today = now.astimezone(filters.zone).date()
    days = []
    for offset in range(7):
        day = filters.week + dt.timedelta(days=offset)
        info = calendar.day(day)
        note = None
        if info.name and not info.working:
            note = _("Holiday: %(name)s", name=info.name)
        elif not info.working and day.weekday() < 5:
            note = _("Holiday")
        elif info.working and day.weekday() >= 5:
            note = _("Make-up working day")
        days.append(
            Day(
                day=day,
                label=format_skeleton("MMMd", day, locale=current_locale()),
                weekday=_(WEEKDAYS[day.weekday()]),
                note=note,
                today=day == today,
                views=[v for v in views if v.slot.starts_at.astimezone(filters.zone).date() == day],
            )
        )
    teams = await hr.visible_teams(session, user.principal)
    jobs = await hr.visible_jobs(session, user.principal)
    shown_jobs = [j for j in jobs if filters.team_id is None or j.team_id == filters.team_id]
    # Where each shown booking may move to: the free slots of its job's round.
    move_targets: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for view in views:
        key = (view.slot.job_id, view.slot.round)
        if view.bookings and key not in move_targets:
            move_targets[key] = [
                {
                    "id": s.id,
                    "label": format_skeleton(
                        "MMMEd", s.starts_at.astimezone(filters.zone), locale=current_locale()
                    )
                    + " "
                    + _moment(s.starts_at, filters.zone)
                    + "–"
                    + _moment(s.ends_at, filters.zone),
                }
                for s in await hr.free_slots(session, key[0], key[1], now=now)
            ]
    zones = sorted({*VIEW_ZONES, *(v.slot.time_zone for v in views)} - {BUSINESS_ZONE})
    policies = {job.id: await service.policy_of(session, job.id) for job in shown_jobs[:200]}
    done = DONE.get(request.query_params.get("done", ""))
    return page(
        request,
        "scheduling.html",
        user,
        status_code=status_code,
        active="scheduling",
        filters=filters,
        here=f"{BASE}?{filters.query()}",
        previous_week=f"{BASE}?{filters.query(week=filters.week - dt.timedelta(days=7))}",
        next_week=f"{BASE}?{filters.query(week=filters.week + dt.timedelta(days=7))}",
        this_week=f"{BASE}?{filters.query(week='')}",
        week_label=_(
            "%(first)s to %(last)s",
            first=format_date(filters.week, "long", locale=current_locale()),
            last=format_date(filters.week + dt.timedelta(days=6), "long", locale=current_locale()),
        ),
        days=days,
        now=now,
        zone=filters.zone.key,
        zones=[BUSINESS_ZONE, *zones],
        teams=teams,
        jobs=jobs,
        shown_jobs=shown_jobs,
        policies=policies,
        default_move_cutoff_hours=DEFAULT_MOVE_CUTOFF_HOURS,
        kinds=[k.value for k in InterviewKind],
        move_targets=move_targets,
        applications=await hr.bookable_applications(session, [j.id for j in shown_jobs[:200]]),
        time=lambda moment: _moment(moment, filters.zone),
        done=_(done) if done else None,
        problem=problem,
        weekday_names=[_(name) for name in WEEKDAYS],
        max_feed_mb=MAX_FEED_BYTES // 1_000_000,
        weekly_last=filters.week + dt.timedelta(days=27),
    )


@router.get("", response_class=HTMLResponse)
async def calendar_page(
    request: Request, user: CurrentConsoleUser, session: SessionDep
) -> Response:
    return await _calendar_page(request, user, session, _filters(request.query_params))


async def _act(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    form: FormData,
    done: str,
    action: Any,
) -> Response:
    """Run the change and go back to the week; a refused one shows the week with why."""
    back = _back(form)
    try:
        outcome = await action()
    except CandorError as exc:
        await session.rollback()
        filters = _filters(dict(_query_of(back)))
        status = exc.http_status if 400 <= exc.http_status < 500 else 400
        return await _calendar_page(
            request, user, session, filters, problem=_problem(exc), status_code=status
        )
    if isinstance(outcome, str):
        done = outcome
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={done}", status_code=303)


def _query_of(back: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(back).query)


def _required_int(form: FormData, name: str, *, low: int = 0, high: int = 100_000) -> int:
    text = form_text(form, name).strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidSlotError(f"{name}: a whole number from {low} to {high}", code="invalid_form")
    return int(text)


def _optional(form: FormData, name: str, limit: int) -> str | None:
    return form_text(form, name).strip()[:limit] or None


def _interviewers(form: FormData) -> tuple[str, ...]:
    names = [n.strip()[:100] for n in form_text(form, "interviewers").replace("，", ",").split(",")]
    return tuple(n for n in names if n)[:20]


def _time(form: FormData, name: str) -> dt.time:
    try:
        return dt.time.fromisoformat(form_text(form, name).strip())
    except ValueError as exc:
        raise InvalidSlotError(f"{name}: a time like 09:30", code="invalid_form") from exc


def _form_day(form: FormData, name: str) -> dt.date:
    day = _day(form_text(form, name))
    if day is None:
        raise InvalidSlotError(f"{name}: a date", code="invalid_form")
    return day


def _job_id(form: FormData) -> int:
    job_id = parse_row_id(form_text(form, "job_id"))
    if job_id is None:
        raise InvalidSlotError("choose a job", code="invalid_form")
    return job_id


@router.post("/slots")
async def add_slot(
    request: Request, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    async def action() -> None:
        job_id = _job_id(form)
        await hr.visible_job(session, user.principal, job_id)
        zone_name = form_text(form, "time_zone", default=BUSINESS_ZONE).strip()
        zone = slots.zone(zone_name)
        day = _form_day(form, "day")
        round, kind = await hr.slot_round(session, job_id, None, None)
        spec = slots.SlotSpec(
            starts_at=dt.datetime.combine(day, _time(form, "start"), zone),
            ends_at=dt.datetime.combine(day, _time(form, "end"), zone),
            capacity=_required_int(form, "capacity", low=1, high=slots.MAX_CAPACITY),
            location=_optional(form, "location", 300),
            video_link=_optional(form, "video_link", 1000),
            interviewers=_interviewers(form),
            time_zone=zone_name,
        )
        await slots.add_slots(
            session, user.principal, job_id, [spec], round=round, kind=kind,
            source=SlotSource.MANUAL, now=utcnow(),
        )  # fmt: skip

    return await _act(request, user, session, form, "slot", action)


@router.post("/weekly")
async def add_weekly(
    request: Request, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    async def action() -> None:
        job_id = _job_id(form)
        await hr.visible_job(session, user.principal, job_id)
        round, kind = await hr.slot_round(session, job_id, None, None)
        weekdays = frozenset(
            int(d) for d in form.getlist("weekdays") if isinstance(d, str) and d in WEEKDAY_VALUES
        )
        window = slots.WeeklyWindow(
            start=_time(form, "start"),
            end=_time(form, "end"),
            duration_minutes=_required_int(form, "duration_minutes", low=5, high=24 * 60),
            gap_minutes=_required_int(form, "gap_minutes", high=24 * 60),
            weekdays=weekdays,
            capacity=_required_int(form, "capacity", low=1, high=slots.MAX_CAPACITY),
            location=_optional(form, "location", 300),
            video_link=_optional(form, "video_link", 1000),
            interviewers=_interviewers(form),
            time_zone=form_text(form, "time_zone", default=BUSINESS_ZONE).strip(),
        )
        specs = slots.weekly_specs(
            await current_calendar(session),
            [window],
            _form_day(form, "first"),
            _form_day(form, "last"),
        )
        now = utcnow()
        await slots.add_slots(
            session, user.principal, job_id, [s for s in specs if s.starts_at > now],
            round=round, kind=kind, source=SlotSource.WEEKLY, now=now,
        )  # fmt: skip

    return await _act(request, user, session, form, "weekly", action)


@router.post("/import")
async def import_ics(
    request: Request, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    async def action() -> None:
        job_id = _job_id(form)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidSlotError("choose a file", code="invalid_form")
        data = await upload.read(MAX_FEED_BYTES + 1)
        await hr.import_feed(
            session,
            user.principal,
            job_id,
            data,
            round=None,
            kind=None,
            capacity=_required_int(form, "capacity", low=1, high=slots.MAX_CAPACITY),
            time_zone=form_text(form, "time_zone", default=BUSINESS_ZONE).strip(),
            now=utcnow(),
        )

    return await _act(request, user, session, form, "imported", action)


@router.post("/policy")
async def set_policy(
    request: Request, user: CurrentConsoleUser, form: CheckedForm, session: SessionDep
) -> Response:
    async def action() -> None:
        job_id = _job_id(form)
        await hr.visible_job(session, user.principal, job_id)
        kind = form_text(form, "interview_kind")
        if kind not in {k.value for k in InterviewKind}:
            raise InvalidSlotError("choose the interview kind", code="invalid_form")
        await service.set_policy(
            session,
            job_id,
            interview_kind=InterviewKind(kind),
            round=_required_int(form, "round", low=1, high=20),
            enabled=form_text(form, "enabled") == "on",
            hold_minutes=_required_int(form, "hold_minutes", low=1, high=1440),
            min_notice_hours=_required_int(form, "min_notice_hours", high=24 * 60),
            move_cutoff_hours=_required_int(form, "move_cutoff_hours", high=24 * 60),
            max_moves=_required_int(form, "max_moves", high=20),
            offer_count=_required_int(form, "offer_count", low=1, high=10),
            preparation=form_textarea(form, "preparation").strip()[:2000],
            actor=user.actor,
        )

    return await _act(request, user, session, form, "policy", action)


async def _visible_slot(session: SessionDep, user: ConsoleUser, slot_id: int) -> None:
    """Another team's slot (or a made-up id) is the 404 page, as with every console object."""
    try:
        await hr.visible_slot(session, user.principal, slot_id)
    except CandorError as exc:
        raise not_found(_("slot %(id)s", id=slot_id)) from exc


@router.post("/slots/{slot_id}/cancel")
async def cancel_slot(
    slot_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    await _visible_slot(session, user, slot_id)

    async def action() -> None:
        await slots.cancel_slot(session, user.principal, slot_id, now=utcnow())

    return await _act(request, user, session, form, "slot_cancelled", action)


@router.post("/slots/{slot_id}/book")
async def book(
    slot_id: RowId,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await _visible_slot(session, user, slot_id)

    async def action() -> str:
        code = form_text(form, "application_code").strip()
        if not code:
            raise InvalidSlotError("give the application code", code="invalid_form")
        change = await hr.book(
            session, runtime.settings, user.principal, code, slot_id, now=utcnow()
        )
        return change.change.value if change.change is not None else "unchanged"

    return await _act(request, user, session, form, "booked", action)


async def _booking_action(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    form: FormData,
    public_id: str,
    done: str,
    action: Any,
) -> Response:
    try:
        await service.booking_for_hr(session, user.principal, public_id[:32])
    except CandorError as exc:
        raise not_found(_("booking %(id)s", id=public_id[:32])) from exc
    return await _act(request, user, session, form, done, action)


@router.post("/bookings/{public_id}/move")
async def move(
    public_id: str,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    async def action() -> str:
        slot_id = parse_row_id(form_text(form, "slot_id"))
        if slot_id is None:
            raise InvalidSlotError("choose the new time", code="invalid_form")
        change = await hr.move(
            session, runtime.settings, user.principal, public_id, slot_id, now=utcnow()
        )
        return change.change.value if change.change is not None else "unchanged"

    return await _booking_action(request, user, session, form, public_id, "moved", action)


@router.post("/bookings/{public_id}/cancel")
async def cancel(
    public_id: str,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    async def action() -> None:
        reason = form_textarea(form, "reason").strip()[:500] or None
        await hr.cancel(
            session, runtime.settings, user.principal, public_id, reason=reason, now=utcnow()
        )

    return await _booking_action(request, user, session, form, public_id, "cancelled", action)


@router.post("/bookings/{public_id}/attendance")
async def attendance(
    public_id: str,
    request: Request,
    user: CurrentConsoleUser,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    value = form_text(form, "attendance")

    async def action() -> str:
        if value not in {a.value for a in Attendance}:
            raise InvalidSlotError("attended or no-show", code="invalid_form")
        await service.record_attendance(
            session, user.principal, public_id, Attendance(value), now=utcnow()
        )
        return value

    return await _booking_action(request, user, session, form, public_id, "attended", action)
