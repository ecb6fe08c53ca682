"""HR's scheduling API: policies, slots (one, weekly windows, an ICS file), booking, moving
and cancelling for a candidate (who is told), attendance, and the candidate's signed .ics
link; every kind of bad input is a 4xx with a stable code and writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar
from sqlalchemy import func, select

from candor.audit.service import Action
from candor.clock import BUSINESS_TZ, utcnow
from candor.models import AuditEntry, InterviewBooking, InterviewSlot
from candor.models.enums import Channel, Role
from candor.models.scheduling import BookingState
from candor.sla.service import current_calendar
from tests.booking_chat_world import china
from tests.outreach_world import World, hr
from tests.scheduling_world import (
    application_code,
    chats_on,
    emails_to,
    ics_path,
    next_working_days,
    scheduling_job,
    sent_in_chat,
    slot_starts_passed,
)

BASE = "/api/v1/scheduling"


async def post(
    api: httpx.AsyncClient, world: World, path: str, body: Any = None, *, token: str | None = None
) -> httpx.Response:
    key = f"k-{path}-{utcnow().timestamp()}"
    return await api.post(
        f"{BASE}{path}", headers=hr(token or world.recruiter_token, key=key), json=body
    )


async def one_slot(
    api: httpx.AsyncClient, world: World, job_id: int, hour: int, *, day_index: int = 0, **more: Any
) -> dict[str, Any]:
    day = (await next_working_days(world, day_index + 1))[day_index]
    answer = await post(
        api,
        world,
        "/slots",
        {
            "job_id": job_id,
            "starts_at": china(day, hour).isoformat(),
            "ends_at": china(day, hour, 45).isoformat(),
            "location": "上海市徐汇区虹桥路 1 号 3 楼",
            "interviewers": ["王老师"],
            **more,
        },
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_policy_is_read_and_set_per_job_in_the_users_teams(
    api: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    job_id = (await world.application(1)).job_id
    missing = await api.get(f"{BASE}/jobs/{job_id}/policy", headers=hr(world.recruiter_token))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "policy_not_found")

    body = {"interview_kind": "onsite", "round": 2, "max_moves": 1, "preparation": "作品集"}
    put = await api.put(
        f"{BASE}/jobs/{job_id}/policy", headers=hr(world.recruiter_token), json=body
    )
    assert put.status_code == 200, put.text
    got = await api.get(f"{BASE}/jobs/{job_id}/policy", headers=hr(world.recruiter_token))
    assert got.json() | body == got.json()
    assert got.json()["job_id"] == job_id

    # Another team's recruiter neither reads nor sets it.
    for answer in (
        await api.get(f"{BASE}/jobs/{job_id}/policy", headers=hr(world.outsider_token)),
        await api.put(f"{BASE}/jobs/{job_id}/policy", headers=hr(world.outsider_token), json=body),
    ):
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "job_not_found")
    bad = await api.put(
        f"{BASE}/jobs/{job_id}/policy",
        headers=hr(world.recruiter_token),
        json={**body, "hold_minutes": 0},
    )
    assert bad.status_code == 422


async def test_weekly_windows_make_slots_on_chinas_working_days_only(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    today = utcnow().astimezone(BUSINESS_TZ).date()
    first, last = today + timedelta(days=7), today + timedelta(days=27)
    answer = await post(
        api,
        world,
        "/slots/weekly",
        {
            "job_id": job_id,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "windows": [
                {"start": "10:00", "end": "12:00", "duration_minutes": 45, "gap_minutes": 15}
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    async with world.runtime.sessionmaker() as session:
        calendar = await current_calendar(session)
    working = [
        first + timedelta(days=d)
        for d in range((last - first).days + 1)
        if calendar.is_working_day(first + timedelta(days=d))
    ]
    assert answer.json()["count"] == 2 * len(working)  # 10:00 and 11:00, each 45 minutes

    listed = await api.get(
        f"{BASE}/slots",
        params={"from": first.isoformat(), "to": (first + timedelta(days=13)).isoformat()},
        headers=hr(world.recruiter_token),
    )
    assert listed.status_code == 200, listed.text
    days = {
        datetime.fromisoformat(slot["starts_at"]).astimezone(BUSINESS_TZ).date()
        for slot in listed.json()
    }
    assert days == {d for d in working if d <= first + timedelta(days=13)}
    assert {s["capacity"] for s in listed.json()} == {1}
    assert {s["seats_left"] for s in listed.json()} == {1}

    # Another team sees none of them; a too-long range is refused.
    other = await api.get(
        f"{BASE}/slots", params={"from": first.isoformat()}, headers=hr(world.outsider_token)
    )
    assert other.json() == []
    too_long = await api.get(
        f"{BASE}/slots",
        params={"from": first.isoformat(), "to": (first + timedelta(days=90)).isoformat()},
        headers=hr(world.recruiter_token),
    )
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "invalid_range")


async def test_hr_books_moves_and_cancels_and_the_candidate_is_told_each_time(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    conversation_id = await chats_on(world, 1, Channel.TELEGRAM)
    code = await application_code(world, 1)
    first = await one_slot(api, world, job_id, 10)
    second = await one_slot(api, world, job_id, 15, video_link="https://meet.example.com/abc")

    booked = await post(api, world, "/bookings", {"application_code": code, "slot_id": first["id"]})
    assert booked.status_code == 200, booked.text
    assert booked.json()["change"] == "booked"
    assert booked.json()["candidate_told_by"] == "telegram"
    [told] = await sent_in_chat(world, conversation_id)
    assert "招聘方已为您安排“后端工程师”的面试" in told
    assert "10:00–10:45（北京时间）" in told
    assert "虹桥路" in told
    assert "身份证和简历" in told

    # The link in the message opens the calendar file, with no login.
    ics = await api.get(ics_path(told))
    assert ics.status_code == 200, ics.text
    assert ics.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["summary"]) == "后端工程师 面试"
    assert "虹桥路" in str(event["location"])

    # The calendar shows the booking; a second booking there is a no-op, nobody told twice.
    [listed] = [
        s
        for s in (
            await api.get(
                f"{BASE}/slots", params={"job_id": job_id, "from": first["starts_at"][:10]},
                headers=hr(world.recruiter_token),
            )
        ).json()
        if s["id"] == first["id"]
    ]  # fmt: skip
    [booking] = listed["bookings"]
    assert (booking["application_code"], booking["candidate_name"]) == (code, "李雷")
    assert booking["state"] == "confirmed"
    again = await post(api, world, "/bookings", {"application_code": code, "slot_id": first["id"]})
    assert again.json()["change"] is None
    assert len(await sent_in_chat(world, conversation_id)) == 1

    moved = await post(api, world, f"/bookings/{booking['id']}/move", {"slot_id": second["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["change"] == "moved"
    told_move = (await sent_in_chat(world, conversation_id))[-1]
    assert "从" in told_move
    assert "改到" in told_move
    assert "15:00–15:45" in told_move
    assert "https://meet.example.com/abc" in told_move
    # The old link opens nothing now; the new one opens the new time.
    assert (await api.get(ics_path(told))).status_code == 404
    assert (await api.get(ics_path(told_move))).status_code == 200

    new_id = moved.json()["booking_id"]
    early = await post(api, world, f"/bookings/{new_id}/attendance", {"attendance": "no_show"})
    assert (early.status_code, early.json()["error"]["code"]) == (409, "change_not_allowed")

    cancelled = await post(api, world, f"/bookings/{new_id}/cancel", {"reason": "面试官出差"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    told_cancel = (await sent_in_chat(world, conversation_id))[-1]
    assert "已由招聘方取消" in told_cancel
    assert "面试官出差" in told_cancel
    assert (await api.get(ics_path(told_move))).status_code == 404
    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "booking")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        Action.BOOKING_MADE_BY_HR,
        Action.BOOKING_MOVED_BY_HR,
        Action.BOOKING_CANCELLED_BY_HR,
    ]


async def test_attendance_is_recorded_once_the_interview_began(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    code = await application_code(world, 1)
    slot = await one_slot(api, world, job_id, 10)
    booked = await post(api, world, "/bookings", {"application_code": code, "slot_id": slot["id"]})
    booking_id = booked.json()["booking_id"]
    await slot_starts_passed(world, slot["id"])

    refused = await post(
        api,
        world,
        f"/bookings/{booking_id}/attendance",
        {"attendance": "no_show"},
        token=world.outsider_token,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "booking_not_found")
    recorded = await post(
        api, world, f"/bookings/{booking_id}/attendance", {"attendance": "no_show"}
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json() == {"booking_id": booking_id, "attendance": "no_show"}
    async with world.runtime.sessionmaker() as session:
        booking = await session.scalar(
            select(InterviewBooking).where(InterviewBooking.public_id == booking_id)
        )
        assert booking is not None
        assert booking.attendance_by == f"user:{world.recruiter.id}"


async def test_without_a_bound_chat_the_candidate_is_told_by_email(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    code = await application_code(world, 1)
    slot = await one_slot(api, world, job_id, 10)
    booked = await post(api, world, "/bookings", {"application_code": code, "slot_id": slot["id"]})
    assert booked.json()["candidate_told_by"] == "email"
    [mail] = await emails_to(world, "lilei@example.com")
    assert mail.subject == "面试已安排：后端工程师"
    assert ".ics?sig=" in mail.body


async def test_an_ics_file_is_imported_and_a_second_import_updates_it(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    [day] = await next_working_days(world, 1)
    start = china(day, 9).strftime("%Y%m%dT%H%M%S")
    end = china(day, 10).strftime("%Y%m%dT%H%M%S")
    feed = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:one@hr\r\nDTSTART;TZID=Asia/Shanghai:{start}\r\n"
        f"DTEND;TZID=Asia/Shanghai:{end}\r\nLOCATION:会议室 A\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:allday@hr\r\nDTSTART;VALUE=DATE:20300101\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:old@hr\r\nDTSTART:20200101T020000Z\r\n"
        "DTEND:20200101T030000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()

    async def upload(data: bytes, key: str) -> httpx.Response:
        return await api.post(
            f"{BASE}/slots/import",
            headers=hr(world.recruiter_token, key=key),
            data={"job_id": str(job_id), "capacity": "3"},
            files={"file": ("hr.ics", data, "text/calendar")},
        )

    first = await upload(feed, "import-1")
    assert first.status_code == 200, first.text
    assert (first.json()["added"], first.json()["updated"]) == (1, 0)
    assert len(first.json()["skipped"]) == 2
    second = await upload(feed.replace("会议室 A".encode(), "会议室 B".encode()), "import-2")
    assert (second.json()["added"], second.json()["updated"]) == (0, 1)
    async with world.runtime.sessionmaker() as session:
        [slot] = (await session.scalars(select(InterviewSlot))).all()
        assert (slot.location, slot.capacity) == ("会议室 B", 3)

    broken = await upload(b"this is not a calendar", "import-3")
    assert (broken.status_code, broken.json()["error"]["code"]) == (422, "invalid_ics")


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    api: httpx.AsyncClient, world: World
) -> None:
    job_id = await scheduling_job(world)
    code = await application_code(world, 1)
    [day] = await next_working_days(world, 1)
    yesterday = utcnow().astimezone(BUSINESS_TZ).date() - timedelta(days=1)

    def slot(**changes: Any) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "starts_at": china(day, 10).isoformat(),
            "ends_at": china(day, 11).isoformat(),
            **changes,
        }

    cases = [
        ("/slots", slot(starts_at=china(yesterday, 10).isoformat(),
                        ends_at=china(yesterday, 11).isoformat()), 422, "slot_in_past"),
        ("/slots", slot(time_zone="Mars/Olympus"), 422, "invalid_time_zone"),
        ("/slots", slot(capacity=0), 422, "invalid_request"),
        ("/slots", slot(ends_at=china(day, 9).isoformat()), 422, "invalid_slot"),
        ("/slots", slot(starts_at="0001-01-01T00:00:00+14:00"), 422, "invalid_request"),
        ("/slots", slot(starts_at="2026-03-12T10:00:00"), 422, "invalid_request"),
        ("/slots", slot(video_link="javascript:alert(1)"), 422, "invalid_slot"),
        ("/slots/weekly", {"job_id": job_id, "first": day.isoformat(),
                           "last": (day - timedelta(days=1)).isoformat(),
                           "windows": [{"start": "10:00", "end": "12:00",
                                        "duration_minutes": 30}]}, 422, "invalid_slot"),
        ("/bookings", {"application_code": "AP-2026-999999", "slot_id": 1}, 404,
         "application_not_found"),
        ("/bookings", {"application_code": code, "slot_id": 999999}, 404, "slot_not_found"),
        ("/bookings/nosuchbooking/cancel", {"reason": "x"}, 404, "booking_not_found"),
        ("/bookings/nosuchbooking/move", {"slot_id": 1}, 404, "booking_not_found"),
    ]  # fmt: skip
    for path, body, status, error in cases:
        answer = await post(api, world, path, body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, error), (
            path,
            body,
            answer.text,
        )
    # Another team's job, slot and booking are not there for its recruiter.
    job_b = await scheduling_job(world, 2, team="team-b")
    foreign = await post(api, world, "/slots", slot(job_id=job_b))
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "job_not_found")
    taken = await one_slot(api, world, job_id, 14)
    booked = await post(api, world, "/bookings", {"application_code": code, "slot_id": taken["id"]})
    booking_id = booked.json()["booking_id"]
    foreign_posts: list[tuple[str, dict[str, Any] | None]] = [
        (f"/bookings/{booking_id}/cancel", {"reason": "x"}),
        (f"/bookings/{booking_id}/move", {"slot_id": taken["id"]}),
        (f"/slots/{taken['id']}/cancel", None),
    ]
    for path, posted in foreign_posts:
        answer = await post(api, world, path, posted, token=world.outsider_token)
        assert answer.status_code == 404, (path, answer.text)
    code_b = await application_code(world, 2)
    other = await post(
        api, world, "/bookings", {"application_code": code_b, "slot_id": taken["id"]}
    )
    assert (other.status_code, other.json()["error"]["code"]) == (404, "application_not_found")

    # A full slot, a booked slot withdrawn, a slot of another job.
    await world.applicant(3)
    code_3 = await application_code(world, 3)
    full = await post(api, world, "/bookings", {"application_code": code_3, "slot_id": taken["id"]})
    assert (full.status_code, full.json()["error"]["code"]) == (409, "slot_taken")
    withdraw = await post(api, world, f"/slots/{taken['id']}/cancel")
    assert (withdraw.status_code, withdraw.json()["error"]["code"]) == (409, "change_not_allowed")
    _admin, admin_token = await world.member(Role.ADMIN)
    async with world.runtime.sessionmaker() as session:
        slots = await session.scalar(select(func.count()).select_from(InterviewSlot))
        live = await session.scalar(
            select(func.count())
            .select_from(InterviewBooking)
            .where(InterviewBooking.state == BookingState.CONFIRMED)
        )
    assert (slots, live) == (1, 1)
    listed = await api.get(
        f"{BASE}/slots", params={"from": day.isoformat()}, headers=hr(admin_token)
    )
    assert [s["id"] for s in listed.json()] == [taken["id"]]


async def test_the_ics_link_needs_its_signature(api: httpx.AsyncClient, world: World) -> None:
    job_id = await scheduling_job(world)
    conversation_id = await chats_on(world, 1)
    code = await application_code(world, 1)
    slot = await one_slot(api, world, job_id, 10)
    await post(api, world, "/bookings", {"application_code": code, "slot_id": slot["id"]})
    path = ics_path((await sent_in_chat(world, conversation_id))[0])
    good = await api.get(path)
    assert good.status_code == 200
    public_id = path.split("/")[-1].split(".ics")[0]
    for bad in (
        f"{BASE}/bookings/{public_id}.ics",
        f"{BASE}/bookings/{public_id}.ics?sig=" + "0" * 64,
        f"{BASE}/bookings/{public_id}x.ics?" + path.split("?")[1],
    ):
        answer = await api.get(bad)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found"), bad
