"""Interview scheduling, HR's side: each job's self-scheduling policy, its slots (one by one,
weekly windows on China's working days, or an ICS file), and booking, moving or cancelling
a candidate's interview, with the candidate told. Team-scoped: another team's job, slot,
application or booking answers 404. Every POST takes an `Idempotency-Key`.

The candidate's `.ics` link is the one route here without a login: its HMAC signature is
the credential (`candor.scheduling.links`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from api.deps import CurrentHR, RuntimeDep, SessionDep
from api.errors import HR_TOKEN, IDEMPOTENT_POST, UNREADABLE_BODY, ApiError, error_responses
from api.idempotent import IdempotentPostDep
from candor.clock import BUSINESS_TZ, utcnow
from candor.ids import RowId
from candor.models.enums import InterviewKind
from candor.models.scheduling import SlotSource
from candor.scheduling import hr, service, slots
from candor.scheduling.errors import InvalidSlotError
from candor.scheduling.ics import MAX_FEED_BYTES
from candor.scheduling.links import verify_ics_signature
from candor.scheduling.schemas import (
    AttendanceIn,
    AttendanceOut,
    ChangeOut,
    Day,
    HrBookIn,
    HrCancelIn,
    ImportOut,
    MoveIn,
    PolicyIn,
    PolicyOut,
    SlotIn,
    SlotOut,
    SlotsCreatedOut,
    WeeklyIn,
)
from candor.sla.service import current_calendar

router = APIRouter(
    prefix="/api/v1/scheduling", tags=["scheduling"], responses=error_responses(HR_TOKEN)
)
# The candidate's calendar file: no HR token, so none of HR_TOKEN's answers.
public_router = APIRouter(prefix="/api/v1/scheduling", tags=["scheduling"])

MAX_RANGE_DAYS = 62
JOB_NOT_FOUND = {404: "No such job in your teams (`job_not_found`)"}
SLOT_NOT_FOUND = {404: "No such slot in your teams (`slot_not_found`)"}
BOOKING_NOT_FOUND = {404: "No such booking in your teams (`booking_not_found`)"}
INVALID_SLOT = {
    422: "Invalid body, or `invalid_slot` / `slot_in_past` / `invalid_time_zone` / "
    "`no_slots` / `policy_not_found`: nothing was written"
}
CONFLICT = {
    409: "`slot_taken` (every seat is booked), `slot_too_soon` (it has started), "
    "`no_invitation` (the job does not schedule interviews in Candor) or "
    "`change_not_allowed`; or the Idempotency-Key was used otherwise"
}


def _dumped(model: Any) -> Any:
    return model.model_dump(mode="json")


@router.get(
    "/jobs/{job_id}/policy",
    response_model=PolicyOut,
    responses=error_responses(
        {404: "No such job in your teams, or it has no policy yet (`policy_not_found`)"}
    ),
    summary="The job's self-scheduling policy",
)
async def get_policy(job_id: RowId, session: SessionDep, principal: CurrentHR) -> PolicyOut:
    return PolicyOut.of(await hr.job_policy(session, principal, job_id))


@router.put(
    "/jobs/{job_id}/policy",
    response_model=PolicyOut,
    responses=error_responses(UNREADABLE_BODY, JOB_NOT_FOUND),
    summary="Set the job's self-scheduling policy (created or replaced)",
    description="Which round candidates who advance book, how long a picked time is held, "
    "the minimum notice, and how late and how often a candidate may move it themselves.",
)
async def put_policy(
    job_id: RowId, body: PolicyIn, session: SessionDep, principal: CurrentHR
) -> PolicyOut:
    await hr.visible_job(session, principal, job_id)
    policy = await service.set_policy(session, job_id, **body.model_dump(), actor=principal.actor)
    return PolicyOut.of(policy)


@router.get(
    "/slots",
    response_model=list[SlotOut],
    responses=error_responses(
        {422: f"`to` before `from`, or more than {MAX_RANGE_DAYS} days (`invalid_range`)"}
    ),
    summary="Slots in a date range (China time), soonest first, with their bookings",
)
async def list_slots(
    session: SessionDep,
    principal: CurrentHR,
    from_: Annotated[
        Day | None, Query(alias="from", description="First day (default: today, China time)")
    ] = None,
    to: Annotated[Day | None, Query(description="Last day (default: from + 6 days)")] = None,
    team_id: Annotated[RowId | None, Query()] = None,
    job_id: Annotated[RowId | None, Query()] = None,
    include_cancelled: bool = False,
) -> list[SlotOut]:
    first = from_ or utcnow().astimezone(BUSINESS_TZ).date()
    last = to or first + dt.timedelta(days=6)
    if last < first or (last - first).days >= MAX_RANGE_DAYS:
        raise ApiError(
            422, "invalid_range", f"give `to` on or after `from`, within {MAX_RANGE_DAYS} days"
        )
    views = await hr.calendar(
        session,
        principal,
        start=dt.datetime.combine(first, dt.time(), BUSINESS_TZ),
        end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), BUSINESS_TZ),
        team_id=team_id,
        job_id=job_id,
        include_cancelled=include_cancelled,
    )
    return [SlotOut.of(view) for view in views]


@router.post(
    "/slots",
    response_model=SlotOut,
    responses=error_responses(IDEMPOTENT_POST, JOB_NOT_FOUND, INVALID_SLOT),
    summary="Add one slot",
)
async def create_slot(
    body: SlotIn, post: IdempotentPostDep, session: SessionDep, principal: CurrentHR
) -> JSONResponse:
    async def action() -> Any:
        await hr.visible_job(session, principal, body.job_id)
        round, kind = await hr.slot_round(session, body.job_id, body.round, body.kind)
        spec = slots.SlotSpec(
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            capacity=body.capacity,
            location=body.location or None,
            video_link=body.video_link or None,
            interviewers=tuple(body.interviewers),
            time_zone=body.time_zone,
        )
        [slot] = await slots.add_slots(
            session,
            principal,
            body.job_id,
            [spec],
            round=round,
            kind=kind,
            source=SlotSource.MANUAL,
            now=utcnow(),
        )
        return _dumped(SlotOut.of(await hr.slot_view(session, principal, slot.id)))

    return await post.run(_dumped(body), action)


@router.post(
    "/slots/weekly",
    response_model=SlotsCreatedOut,
    responses=error_responses(IDEMPOTENT_POST, JOB_NOT_FOUND, INVALID_SLOT),
    summary="Add the slots of recurring weekly windows from one day to another",
    description="Back-to-back interviews in each window on its weekdays, on China's working "
    "days only: no slot on a statutory holiday, and a window over the whole working week "
    "also runs on 调休 make-up working days.",
)
async def create_weekly_slots(
    body: WeeklyIn, post: IdempotentPostDep, session: SessionDep, principal: CurrentHR
) -> JSONResponse:
    async def action() -> Any:
        await hr.visible_job(session, principal, body.job_id)
        round, kind = await hr.slot_round(session, body.job_id, body.round, body.kind)
        windows = [
            slots.WeeklyWindow(
                start=w.start.replace(tzinfo=None),
                end=w.end.replace(tzinfo=None),
                duration_minutes=w.duration_minutes,
                weekdays=frozenset(w.weekdays),
                capacity=w.capacity,
                gap_minutes=w.gap_minutes,
                location=w.location or None,
                video_link=w.video_link or None,
                interviewers=tuple(w.interviewers),
                time_zone=w.time_zone,
            )
            for w in body.windows
        ]
        specs = slots.weekly_specs(await current_calendar(session), windows, body.first, body.last)
        now = utcnow()
        specs = [spec for spec in specs if spec.starts_at > now]
        made = await slots.add_slots(
            session,
            principal,
            body.job_id,
            specs,
            round=round,
            kind=kind,
            source=SlotSource.WEEKLY,
            now=now,
        )
        return _dumped(SlotsCreatedOut(count=len(made), slot_ids=[s.id for s in made]))

    return await post.run(_dumped(body), action)


@router.post(
    "/slots/import",
    response_model=ImportOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        JOB_NOT_FOUND,
        {422: "Not an iCalendar file (`invalid_ics`), or invalid fields: nothing was written"},
    ),
    summary="Import slots from an ICS file (events seen before, by UID, are updated)",
    description="Every timed event in the future becomes a slot; all-day, cancelled, "
    "recurring and past events are skipped and listed with why.",
)
async def import_slots(
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
    job_id: Annotated[RowId, Form()],
    file: Annotated[UploadFile, File(description="An .ics file, at most 2 MB")],
    capacity: Annotated[int, Form(ge=1, le=slots.MAX_CAPACITY)] = 1,
    time_zone: Annotated[str, Form(min_length=1, max_length=64)] = "Asia/Shanghai",
    round: Annotated[int | None, Form(ge=1, le=20)] = None,
    kind: Annotated[InterviewKind | None, Form()] = None,
) -> JSONResponse:
    data = await file.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise InvalidSlotError("the ICS file is larger than 2 MB", code="invalid_ics")
    fingerprint = {
        "job_id": job_id,
        "capacity": capacity,
        "time_zone": time_zone,
        "round": round,
        "kind": kind.value if kind is not None else None,
        "file": hr.file_digest(data),
    }

    async def action() -> Any:
        report = await hr.import_feed(
            session,
            principal,
            job_id,
            data,
            round=round,
            kind=kind,
            capacity=capacity,
            time_zone=time_zone,
            now=utcnow(),
        )
        return _dumped(ImportOut.of(report))

    return await post.run(json.loads(json.dumps(fingerprint)), action)


@router.post(
    "/slots/{slot_id}/cancel",
    response_model=SlotOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        SLOT_NOT_FOUND,
        {409: "The slot has live bookings: move or cancel them first (`change_not_allowed`)"},
    ),
    summary="Withdraw a slot nobody has booked",
)
async def cancel_slot(
    slot_id: RowId, post: IdempotentPostDep, session: SessionDep, principal: CurrentHR
) -> JSONResponse:
    async def action() -> Any:
        await hr.visible_slot(session, principal, slot_id)
        await slots.cancel_slot(session, principal, slot_id, now=utcnow())
        return _dumped(SlotOut.of(await hr.slot_view(session, principal, slot_id)))

    return await post.run({}, action)


@router.post(
    "/bookings",
    response_model=ChangeOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        {404: "No such application or slot in your teams, or a slot of another interview"},
        CONFLICT,
    ),
    summary="Book an application's interview into a slot, or move it there",
    description="HR books past the candidate's policy (no notice or move limits), but never "
    "a slot that has started or is full. The candidate is told on their bound chat, else "
    "by e-mail, with the .ics link.",
)
async def book(
    body: HrBookIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
    runtime: RuntimeDep,
) -> JSONResponse:
    async def action() -> Any:
        change = await hr.book(
            session,
            runtime.settings,
            principal,
            body.application_code,
            body.slot_id,
            now=utcnow(),
        )
        return _dumped(ChangeOut.of(change))

    return await post.run(_dumped(body), action)


@router.post(
    "/bookings/{public_id}/move",
    response_model=ChangeOut,
    responses=error_responses(IDEMPOTENT_POST, BOOKING_NOT_FOUND, CONFLICT),
    summary="Move a confirmed booking to another slot of the same interview",
)
async def move(
    public_id: Annotated[str, Path(max_length=32)],
    body: MoveIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
    runtime: RuntimeDep,
) -> JSONResponse:
    async def action() -> Any:
        change = await hr.move(
            session, runtime.settings, principal, public_id, body.slot_id, now=utcnow()
        )
        return _dumped(ChangeOut.of(change))

    return await post.run(_dumped(body), action)


@router.post(
    "/bookings/{public_id}/cancel",
    response_model=ChangeOut,
    responses=error_responses(IDEMPOTENT_POST, BOOKING_NOT_FOUND),
    summary="Cancel a confirmed booking, with a reason the candidate is told",
)
async def cancel(
    public_id: Annotated[str, Path(max_length=32)],
    body: HrCancelIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
    runtime: RuntimeDep,
) -> JSONResponse:
    async def action() -> Any:
        change = await hr.cancel(
            session,
            runtime.settings,
            principal,
            public_id,
            reason=body.reason or None,
            now=utcnow(),
        )
        return _dumped(ChangeOut.of(change))

    return await post.run(_dumped(body), action)


@router.post(
    "/bookings/{public_id}/attendance",
    response_model=AttendanceOut,
    responses=error_responses(
        IDEMPOTENT_POST,
        BOOKING_NOT_FOUND,
        {409: "The interview has not begun yet (`change_not_allowed`)"},
    ),
    summary="Record whether the candidate came (after the interview began)",
)
async def attendance(
    public_id: Annotated[str, Path(max_length=32)],
    body: AttendanceIn,
    post: IdempotentPostDep,
    session: SessionDep,
    principal: CurrentHR,
) -> JSONResponse:
    async def action() -> Any:
        booking = await service.record_attendance(
            session, principal, public_id, body.attendance, now=utcnow()
        )
        return _dumped(AttendanceOut(booking_id=booking.public_id, attendance=booking.attendance))

    return await post.run(_dumped(body), action)


@public_router.get(
    "/bookings/{public_id}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The interview as iCalendar"},
        **error_responses({404: "No such confirmed booking, or the link's signature is wrong"}),
    },
    summary="The candidate's calendar file of a confirmed booking (a signed link, no login)",
)
async def booking_calendar(
    public_id: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    runtime: RuntimeDep,
    sig: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    found = (
        await hr.calendar_file(session, public_id, now=utcnow())
        if verify_ics_signature(runtime.settings, public_id, sig)
        else None
    )
    if found is None:
        raise ApiError(404, "not_found", "no such calendar file")
    return Response(
        found,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="interview.ics"',
            "Cache-Control": "no-store",
        },
    )
