"""The candidate books, moves and cancels their next interview in chat: the scheduling
actions through the real gateway and the embedded engine (web chat's buttons)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.conversation import ConversationGateway
from candor.auth.principals import HRPrincipal
from candor.chat.messages import Button, Reply
from candor.clock import utcnow
from candor.models import (
    Application,
    Candidate,
    InterviewBooking,
    InterviewSlot,
    SchedulingInvitation,
)
from candor.models.enums import InterviewKind, Role
from candor.models.scheduling import BookingState, InvitationState, SlotSource
from candor.models.webhooks import WebhookEventType
from candor.scheduling.links import verify_ics_signature
from candor.scheduling.slots import SlotSpec, add_slots
from tests.booking_chat_world import (
    PREPARATION,
    VIDEO,
    add,
    bookings,
    china,
    events_of,
    invite,
    reschedule_tasks,
    working_days,
)
from tests.dialogue_world import Chat, bound_chat, texts_of
from tests.factories import application_created
from tests.outreach_world import World


def buttons_of(replies: list[Reply]) -> list[Button]:
    return [button for reply in replies for button in reply.buttons]


def slot_ids(replies: list[Reply]) -> list[int]:
    """The slots offered, in order."""
    found = []
    for button in buttons_of(replies):
        if button.payload.startswith("/choose_slot"):
            found.append(int(json.loads(button.payload.removeprefix("/choose_slot"))["slot_id"]))
    return found


def payload(replies: list[Reply], starts: str) -> str:
    return next(b.payload for b in buttons_of(replies) if b.payload.startswith(starts))


async def book(chat: Chat, slot_id: int) -> list[Reply]:
    held = await chat.press(f'/choose_slot{{"slot_id": "{slot_id}"}}')
    return await chat.press(payload(held, "/confirm_booking"))


async def test_a_candidate_books_one_of_the_soonest_times(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    first, second, third, fourth = await add(
        world, [china(day, 10), china(day, 14), china(later, 10), china(later, 14)]
    )

    offered = await chat.say("下一轮面试怎么安排？")

    assert slot_ids(offered) == [first, second, third]  # the policy's three soonest
    titles = [b.title for b in buttons_of(offered)]
    weekday = "一二三四五六日"[day.weekday()]
    assert (
        titles[0]
        == f"{day.month}月{day.day}日（周{weekday}）10:00–10:45 · 上海市徐汇区漕溪北路 88 号 12 楼"
    )
    assert titles[-2:] == ["更多时间", "都不合适"]
    assert "北京时间" in texts_of(offered)

    held = await chat.press(f'/choose_slot{{"slot_id": "{second}"}}')
    assert "已为你保留" in texts_of(held)
    assert [b.title for b in buttons_of(held)] == ["确认预约", "换个时间"]
    [row] = await bookings(world, 1)
    assert (row.slot_id, row.state) == (second, BookingState.HELD)

    confirmed = texts_of(await chat.press(payload(held, "/confirm_booking")))

    assert "预约成功" in confirmed
    assert f"{day.month}月{day.day}日（周{weekday}）14:00–14:45" in confirmed
    assert "上海市徐汇区漕溪北路 88 号 12 楼" in confirmed
    assert "王经理" in confirmed
    assert PREPARATION in confirmed
    ics = urlsplit(confirmed[confirmed.index("http") :].split()[0])
    assert ics.path == f"/api/v1/scheduling/bookings/{row.public_id}.ics"
    assert verify_ics_signature(
        world.runtime.settings, row.public_id, parse_qs(ics.query)["sig"][0]
    )
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED
    assert fourth not in slot_ids(offered)
    # The progress answer now carries the interview.
    assert "14:00" in texts_of(await chat.say("我的申请进度怎么样了"))


async def test_more_times_pages_on_and_the_book_button_offers_too(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1, offer_count=2)
    days = await working_days(world, 3)
    ids = await add(world, [china(d, h) for d in days for h in (10, 15)])

    first_page = await chat.press("/book_interview")
    assert slot_ids(first_page) == ids[:2]
    second_page = await chat.press(payload(first_page, "/more_slots"))
    assert slot_ids(second_page) == ids[2:4]
    assert "还有这些时间" in texts_of(second_page)
    third_page = await chat.press(payload(second_page, "/more_slots"))
    assert slot_ids(third_page) == ids[4:6]
    last = await chat.press(payload(third_page, "/more_slots"))
    assert slot_ids(last) == []
    assert "暂时没有更多可选的时间" in texts_of(last)
    assert [b.payload for b in buttons_of(last)] == ["/none_fit"]


async def test_none_of_the_times_work_asks_for_the_candidates_times_and_tells_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    await add(world, [china(day, 10)])

    asked = texts_of(await chat.press("/none_fit"))
    assert "你哪些时间方便" in asked
    answered = texts_of(await chat.say("下周一到周三下午都可以"))

    assert "下周一到周三下午都可以" in answered
    assert "HR" in answered
    [task] = await reschedule_tasks(world, 1)
    assert task["proposed_times"] == "下周一到周三下午都可以"
    assert await bookings(world, 1) == []


async def test_a_time_tapped_after_all_ends_the_question_for_the_candidates_times(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    await chat.press("/none_fit")

    await book(chat, slot)
    await chat.say("谢谢")

    assert await reschedule_tasks(world, 1) == []
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED


async def test_a_booked_candidate_moves_to_a_time_that_fits_what_they_ask(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    morning, _, wanted = await add(world, [china(day, 10), china(day, 11), china(later, 15)])
    await book(chat, morning)
    weekday = "一二三四五六日"[later.weekday()]

    offered = await chat.say(f"面试能改到{later.month}月{later.day}日下午吗")

    assert slot_ids(offered) == [wanted]  # only the afternoon of that day fits
    assert "选好后原来的时间会自动释放" in texts_of(offered)
    moved = texts_of(await book(chat, wanted))
    assert "已改期" in moved
    assert f"{later.month}月{later.day}日（周{weekday}）15:00–15:45" in moved
    old, new = await bookings(world, 1)
    assert (old.state, new.state) == (BookingState.MOVED, BookingState.CONFIRMED)
    assert new.slot_id == wanted
    assert await events_of(world, WebhookEventType.INTERVIEW_MOVED) == 1
    assert await reschedule_tasks(world, 1) == []


async def test_a_move_request_no_slot_fits_offers_the_soonest(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    booked, other = await add(world, [china(day, 10), china(later, 10)])
    await book(chat, booked)

    offered = await chat.say("能改到晚上吗")

    assert "没有完全符合你要求的时间" in texts_of(offered)
    assert slot_ids(offered) == [other]


async def test_past_the_policy_a_move_goes_to_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    booked, _ = await add(world, [china(day, 10), china(later, 10)])
    await book(chat, booked)
    await invite(world, 1, move_cutoff_hours=24 * 60)  # the interview is now "too close"

    answer = texts_of(await chat.say("面试能改到下周吗"))

    assert "无法在这里直接修改" in answer
    assert "已把你的改期需求转给 HR" in answer
    [task] = await reschedule_tasks(world, 1)
    assert task["request"] == "面试能改到下周吗"
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED


async def test_moved_as_often_as_allowed_goes_to_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1, max_moves=1)
    days = await working_days(world, 3)
    first, second, _ = await add(world, [china(d, 10) for d in days])
    await book(chat, first)
    await chat.say("面试能换个时间吗")
    await book(chat, second)

    answer = texts_of(await chat.say("还能再换一次时间吗"))

    assert "改期次数已满" in answer
    assert len(await reschedule_tasks(world, 1)) == 1

    # An older offer's button, pressed now: HR and the candidate read words, never the
    # payload's syntax and its UTC time.
    pressed = texts_of(await chat.press('/more_slots{"after": "2026-12-09T02:00:00Z"}'))
    assert "/more_slots" not in pressed
    assert "Z" not in pressed
    [task] = await reschedule_tasks(world, 1)
    requests = [task["request"], *(f["text"] for f in task.get("follow_ups", []))]
    assert not [r for r in requests if r.startswith("/")], requests


async def test_a_candidate_cancels_after_confirming(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    await book(chat, slot)
    [row] = await bookings(world, 1)

    asked = await chat.say("我想取消面试")
    assert "确定要取消" in texts_of(asked)
    assert [b.payload for b in buttons_of(asked)] == [
        f'/cancel_booking{{"booking_id": "{row.public_id}"}}',
        "/more_slots",
        "/deny",
    ]
    cancelled = await chat.press(payload(asked, "/cancel_booking"))

    assert "已取消" in texts_of(cancelled)
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CANCELLED
    assert await events_of(world, WebhookEventType.INTERVIEW_CANCELLED) == 1
    # Pressed again: nothing more happens, and the candidate is told.
    again = texts_of(await chat.press(payload(asked, "/cancel_booking")))
    assert "已经取消" in again
    assert await events_of(world, WebhookEventType.INTERVIEW_CANCELLED) == 1
    # The invitation is open again: the seat can be booked anew.
    assert slot_ids(await chat.press("/book_interview")) == [slot]


async def test_keeping_the_interview_changes_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    await book(chat, slot)

    await chat.say("我想取消面试")
    kept = texts_of(await chat.press("/deny"))

    assert "保持不变" in kept
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED


async def test_cancelling_past_the_policy_goes_to_hr(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    await book(chat, slot)
    asked = await chat.say("我想取消面试")
    await invite(world, 1, move_cutoff_hours=24 * 60)

    answer = texts_of(await chat.press(payload(asked, "/cancel_booking")))

    assert "无法在这里直接修改" in answer
    assert len(await reschedule_tasks(world, 1)) == 1
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED


# -- Bad input ------------------------------------------------------------------------------


async def test_a_time_just_taken_by_someone_else_offers_the_others(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    rival = await bound_chat(world, gateway, 2)
    await invite(world, 1)
    await invite(world, 2)
    day, later = await working_days(world, 2)
    contested, other = await add(world, [china(day, 10), china(later, 10)])
    offered = await chat.say("下一步是什么")
    assert slot_ids(offered) == [contested, other]
    await book(rival, contested)

    answer = await chat.press(f'/choose_slot{{"slot_id": "{contested}"}}')

    assert "刚刚被别人约走了" in texts_of(answer)
    assert slot_ids(answer) == [other]
    assert await bookings(world, 1) == []


async def test_a_time_in_the_past_or_too_soon_is_refused(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    soon, other = await add(world, [china(day, 10), china(later, 10)])
    offered = await chat.say("下一步是什么")
    # Time passes: the offered slot now starts within the job's notice, then in the past.
    async with world.runtime.transaction() as session:
        await session.execute(
            update(InterviewSlot)
            .where(InterviewSlot.id == soon)
            .values(
                starts_at=utcnow() + timedelta(minutes=30),
                ends_at=utcnow() + timedelta(minutes=75),
            )
        )

    answer = await chat.press(payload(offered, "/choose_slot"))

    assert "离现在太近" in texts_of(answer)
    assert slot_ids(answer) == [other]

    held = await chat.press(f'/choose_slot{{"slot_id": "{other}"}}')
    async with world.runtime.transaction() as session:
        await session.execute(
            update(InterviewSlot)
            .where(InterviewSlot.id == other)
            .values(
                starts_at=utcnow() - timedelta(hours=1), ends_at=utcnow() - timedelta(minutes=15)
            )
        )
    late = texts_of(await chat.press(payload(held, "/confirm_booking")))
    assert "已经过去" in late
    [row] = await bookings(world, 1)
    assert row.state is BookingState.HELD


async def test_without_an_invitation_the_next_step_answer_stands(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await bound_chat(world, gateway, 2)
    await invite(world, 2)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])

    for press in ("/book_interview", f'/choose_slot{{"slot_id": "{slot}"}}', "/more_slots"):
        answer = await chat.press(press)
        assert "目前还没有新的安排" in texts_of(answer), press
        assert slot_ids(answer) == []
    assert await bookings(world, 1) == []
    # Asking to move an interview HR arranged still reaches HR, as before.
    assert "已把你的改期需求转给 HR" in texts_of(await chat.say("面试能改到周五吗"))


async def test_a_foreign_or_made_up_booking_id_reveals_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    other = await bound_chat(world, gateway, 2)
    await invite(world, 1)
    await invite(world, 2)
    day, later = await working_days(world, 2)
    theirs, _ = await add(world, [china(day, 10), china(later, 10)])
    held = await other.press(f'/choose_slot{{"slot_id": "{theirs}"}}')
    foreign = json.loads(payload(held, "/confirm_booking").removeprefix("/confirm_booking"))
    foreign_id = foreign["booking_id"]

    for press in (
        f'/confirm_booking{{"booking_id": "{foreign_id}"}}',
        f'/cancel_booking{{"booking_id": "{foreign_id}"}}',
        '/confirm_booking{"booking_id": "made-up"}',
        '/cancel_booking{"booking_id": "' + "x" * 300 + '"}',
        "/confirm_booking",
    ):
        answer = texts_of(await chat.press(press))
        assert answer.startswith("没有找到这个预约"), press
        assert "10:00" not in answer
    [row] = await bookings(world, 2)
    assert row.state is BookingState.HELD
    assert await bookings(world, 1) == []


async def test_a_made_up_slot_id_offers_the_real_times(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])

    # Payloads anyone can type: a superscript digit passes str.isdigit(), and an id past the
    # column's range overflows the database's integer.
    for press in (
        '/choose_slot{"slot_id": "999999"}',
        '/choose_slot{"slot_id": "abc"}',
        '/choose_slot{"slot_id": "²"}',
        '/choose_slot{"slot_id": "99999999999999999999999"}',
    ):
        answer = await chat.press(press)
        assert "不能预约了" in texts_of(answer), press
        assert slot_ids(answer) == [slot]


async def test_a_double_click_on_confirm_books_once(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    held = await chat.press(f'/choose_slot{{"slot_id": "{slot}"}}')
    confirm = payload(held, "/confirm_booking")

    await chat.press(confirm)
    booked = await events_of(world, WebhookEventType.INTERVIEW_BOOKED)
    again = texts_of(await chat.press(confirm))

    assert "已经约好了" in again
    assert f"{day.month}月{day.day}日" in again
    assert await events_of(world, WebhookEventType.INTERVIEW_BOOKED) == booked
    [row] = await bookings(world, 1)
    assert row.state is BookingState.CONFIRMED
    # Choosing the booked time again is the same answer, not a second hold.
    chosen = texts_of(await chat.press(f'/choose_slot{{"slot_id": "{slot}"}}'))
    assert "已经约好了" in chosen
    assert len(await bookings(world, 1)) == 1


async def test_a_lapsed_hold_asks_to_pick_again(world: World, gateway: ConversationGateway) -> None:
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    first, second = await add(world, [china(day, 10), china(later, 10)])
    first_hold = await chat.press(f'/choose_slot{{"slot_id": "{first}"}}')
    await chat.press(f'/choose_slot{{"slot_id": "{second}"}}')  # gives the first one up

    answer = await chat.press(payload(first_hold, "/confirm_booking"))

    assert "保留的时间已经失效" in texts_of(answer)
    assert slot_ids(answer) == [first]  # the second is held for them already
    states = [row.state for row in await bookings(world, 1)]
    assert states == [BookingState.RELEASED, BookingState.HELD]


async def test_times_read_in_the_candidates_zone_and_language(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1, locale="en")
    async with world.runtime.transaction() as session:
        await session.execute(
            update(Candidate)
            .where(Candidate.external_id == "cand-1")
            .values(time_zone="Europe/London")
        )
    await invite(world, 1)
    [day] = await working_days(world, 1)
    await add(world, [china(day, 17)], location=None, video_link=VIDEO)

    offered = await chat.say("What is the next step?")

    [title] = [b.title for b in buttons_of(offered) if b.payload.startswith("/choose_slot")]
    london = china(day, 17).astimezone(ZoneInfo("Europe/London"))
    assert title == f"{london:%a} {london.day} {london:%b}, {london:%H:%M}–" + (
        f"{london + timedelta(minutes=45):%H:%M} · video"
    )
    assert "Europe/London time" in texts_of(offered)
    confirmed = texts_of(await book(chat, slot_ids(offered)[0]))
    assert "Booked" in confirmed
    assert VIDEO in confirmed


async def test_an_invitation_closed_by_withdrawal_books_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    invitation = await invite(world, 1)
    [day] = await working_days(world, 1)
    [slot] = await add(world, [china(day, 10)])
    held = await chat.press(f'/choose_slot{{"slot_id": "{slot}"}}')
    async with world.runtime.transaction() as session:
        await session.execute(
            update(SchedulingInvitation)
            .where(SchedulingInvitation.id == invitation.id)
            .values(state=InvitationState.CLOSED)
        )

    answer = texts_of(await chat.press(payload(held, "/confirm_booking")))

    assert "没有找到这个预约" in answer
    [row] = await bookings(world, 1)
    assert row.state is BookingState.HELD


async def test_i_cant_make_it_after_booking_offers_other_times(
    world: World, gateway: ConversationGateway
) -> None:
    """The reminder's "I can't make it" is a reschedule: other free times, no HR task."""
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    day, later = await working_days(world, 2)
    booked, other = await add(world, [china(day, 10), china(later, 10)])
    await book(chat, booked)

    offered = await chat.say("不好意思，那个时间我去不了了")

    assert slot_ids(offered) == [other]
    assert await reschedule_tasks(world, 1) == []
    english = await chat.say("Sorry, I can't make it to the interview")
    assert slot_ids(english) == [other]


async def test_a_hold_that_lapsed_while_someone_else_took_the_seat_asks_to_pick_again(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await bound_chat(world, gateway, 1)
    rival = await bound_chat(world, gateway, 2)
    await invite(world, 1)
    await invite(world, 2)
    day, later = await working_days(world, 2)
    contested, other = await add(world, [china(day, 10), china(later, 10)])
    held = await chat.press(f'/choose_slot{{"slot_id": "{contested}"}}')
    async with world.runtime.transaction() as session:  # the hold's minutes go by
        await session.execute(
            update(InterviewBooking)
            .where(InterviewBooking.slot_id == contested)
            .values(held_until=utcnow() - timedelta(minutes=1))
        )
    await book(rival, contested)

    answer = await chat.press(payload(held, "/confirm_booking"))

    assert "保留的时间已经失效" in texts_of(answer)
    assert slot_ids(answer) == [other]
    [mine] = await bookings(world, 1)
    assert mine.state is BookingState.RELEASED
    [theirs] = await bookings(world, 2)
    assert theirs.state is BookingState.CONFIRMED


async def test_more_times_page_through_the_job_the_offer_was_for(
    world: World, gateway: ConversationGateway
) -> None:
    """A candidate invited by two jobs asks about the older one by its code: "more times"
    pages through that job's times, not the newest application's."""
    chat = await bound_chat(world, gateway, 1)
    await invite(world, 1)
    days = await working_days(world, 4)
    older_job_slots = await add(world, [china(d, 10) for d in days])
    await world.post(
        application_created(
            event_id="c-second",
            application="app-second",
            candidate="cand-1",
            job="job-team-b",
            team="team-b",
            applied_at="2026-03-05T10:00:00+08:00",
        )
    )
    await invite(world, "second")  # application app-second
    principal = HRPrincipal(world.outsider.id, Role.RECRUITER, frozenset({world.other_team.id}))
    async with world.runtime.transaction() as session:
        second = await session.scalar(
            select(Application).where(Application.external_id == "app-second")
        )
        assert second is not None
        await add_slots(
            session,
            principal,
            second.job_id,
            [SlotSpec(china(d, 15), china(d, 15) + timedelta(minutes=45)) for d in days],
            round=2,
            kind=InterviewKind.ONSITE,
            source=SlotSource.MANUAL,
            now=utcnow(),
        )
        older = await session.scalar(select(Application).where(Application.external_id == "app-1"))
        assert older is not None

    offered = await chat.say(f"{older.code} 的下一轮面试什么时候")
    assert slot_ids(offered) == older_job_slots[:3]
    more = await chat.press(payload(offered, "/more_slots"))

    assert slot_ids(more) == older_job_slots[3:]
