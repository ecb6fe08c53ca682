from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from api.app import create_app
from bot.conversation import ConversationGateway
from candor.chat import limits
from candor.chat.cli import issue_link
from candor.models import ChatDelivery, ChatMessage
from candor.models.enums import Channel
from candor.models.scheduling import BookingState
from tests.booking_chat_world import booking_world, bookings
from tests.outreach_world import World

# An attack takes two seconds; the limits' windows are not what it straddles.
ATTACK_TIME = datetime(2026, 3, 6, 10, 0, 1, tzinfo=UTC)


@pytest.fixture
async def browser(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=world.runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


@pytest.fixture
async def attacked(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The web chat, its gateway's clock stopped at `ATTACK_TIME`."""
    app = create_app(
        runtime=world.runtime,
        gateway_factory=lambda runtime: ConversationGateway(runtime, clock=lambda: ATTACK_TIME),
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def _emails_queued(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        found = select(func.count()).where(ChatDelivery.channel == Channel.EMAIL)
        return int(await session.scalar(found) or 0)


async def _say(http: httpx.AsyncClient, text: str) -> str:
    response = await http.post("/chat/api/messages", json={"text": text})
    assert response.status_code == 200
    return "\n".join(reply["text"] for reply in response.json()["replies"])


async def _messages(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(ChatMessage)) or 0)


async def test_the_page_sets_a_session_and_serves_its_own_assets(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/chat")
    script = await browser.get("/chat/static/chat.js")
    missing = await browser.get("/chat/static/other.js")

    assert page.status_code == 200
    assert '<script src="/chat/static/chat.js"' in page.text
    assert "cdn" not in page.text.lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "candor_chat=" in cookie
    assert "httponly" in cookie.lower()
    assert script.headers["content-type"].startswith("text/javascript")
    assert "textContent" in script.text
    assert missing.status_code == 404


async def test_posting_without_a_session_is_refused(
    browser: httpx.AsyncClient, world: World
) -> None:
    response = await browser.post("/chat/api/messages", json={"text": "hi"})

    assert response.status_code == 401
    assert await _messages(world) == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "x" * 2001}, {"event": "subscribe"}, {"text": 5}],
)
async def test_bad_posts_are_422_and_write_nothing(
    browser: httpx.AsyncClient, world: World, body: dict[str, object]
) -> None:
    await browser.get("/chat")

    response = await browser.post("/chat/api/messages", json=body)

    assert response.status_code == 422
    assert await _messages(world) == 0


async def test_a_bind_link_binds_the_browser_and_the_transcript_is_its_own(
    browser: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    application = await world.application(1)
    issued = await issue_link(world.runtime.settings, application.code, Channel.WEB, actor="t")
    assert issued is not None
    await browser.get(f"/chat?bind={issued.plaintext}")

    bound = await browser.post(
        "/chat/api/messages", json={"event": "start", "event_key": issued.plaintext}
    )
    asked = await browser.post("/chat/api/messages", json={"text": "我的面试结果出来了吗？"})
    history = (await browser.get("/chat/api/messages")).json()["messages"]

    assert application.code in bound.json()["replies"][0]["text"]
    # The dialogue engine answers from the candidate's own application.
    assert application.code in asked.json()["replies"][0]["text"]
    assert asked.json()["last_id"] == history[-1]["id"]
    assert [(m["direction"], m["text"]) for m in history] == [
        ("inbound", None),
        ("outbound", bound.json()["replies"][0]["text"]),
        ("inbound", "我的面试结果出来了吗？"),
        *(("outbound", reply["text"]) for reply in asked.json()["replies"]),
    ]
    assert issued.plaintext not in str(history)
    newer = (await browser.get(f"/chat/api/messages?after={history[1]['id']}")).json()
    assert len(newer["messages"]) == 1 + len(asked.json()["replies"])

    # Another browser has its own, unbound session and sees nothing of this one.
    browser.cookies.clear()
    await browser.get("/chat")
    assert (await browser.get("/chat/api/messages")).json() == {"messages": []}
    stranger = await browser.post("/chat/api/messages", json={"text": "我的面试结果出来了吗？"})
    assert application.code not in stranger.json()["replies"][0]["text"]
    assert "绑定" in stranger.json()["replies"][0]["text"]


async def test_one_session_naming_forty_applications_mails_no_code_and_discloses_nothing(
    attacked: httpx.AsyncClient, world: World
) -> None:
    for n in range(1, 21):
        await world.applicant(n, email=f"c{n}@example.com")
    real = [(await world.application(n)).code for n in range(1, 21)]
    unknown = [f"AP-2026-{900000 + n:06d}" for n in range(1, 21)]
    await attacked.get("/chat")

    answers = [
        (await _say(attacked, f"绑定 {code}"), await _say(attacked, f"绑定 {other}"))
        for code, other in zip(real, unknown, strict=True)
    ]

    assert await _emails_queued(world) == 0  # an application code alone sends nothing
    assert all(to_real == to_unknown for to_real, to_unknown in answers)


async def test_one_session_knowing_the_contacts_gets_a_handful_of_codes_then_waits(
    attacked: httpx.AsyncClient, world: World
) -> None:
    for n in range(1, 9):
        await world.applicant(n, email=f"c{n}@example.com")
    real = [(await world.application(n)).code for n in range(1, 9)]
    await attacked.get("/chat")

    answers = []
    for n, code in enumerate(real, start=1):
        answers.append(await _say(attacked, f"绑定 {code} c{n}@example.com"))
        answers.append(await _say(attacked, f"绑定 AP-2026-{900000 + n:06d} c{n}@example.com"))

    allowed = limits.CODE_REQUESTS_PER_ACCOUNT.limit
    assert await _emails_queued(world) == len(real[: (allowed + 1) // 2])
    # One answer up to the limit and one after, whichever codes exist.
    assert len(set(answers[:allowed])) == 1
    assert len(set(answers[allowed:])) == 1
    assert "分钟后再试" in answers[-1]
    assert "分钟后再试" not in answers[0]


async def test_fresh_sessions_from_one_address_share_its_limit(
    attacked: httpx.AsyncClient, world: World
) -> None:
    answers = []
    for _ in range(limits.CODE_REQUESTS_PER_ADDRESS.limit + 1):
        attacked.cookies.clear()
        await attacked.get("/chat")  # a new visitor, as far as cookies go
        answers.append(await _say(attacked, "绑定 AP-2026-000001 c1@example.com"))

    assert len(set(answers[:-1])) == 1
    assert "分钟后再试" not in answers[0]
    assert "分钟后再试" in answers[-1]


@pytest.mark.parametrize("after", [-1, 2**63, "x"])
async def test_a_transcript_cursor_no_database_holds_is_422(
    browser: httpx.AsyncClient, after: int | str
) -> None:
    # Found by the OpenAPI fuzz test: past 2**63 - 1 SQLite could not bind it (a 500).
    await browser.get("/chat")
    said = await browser.post("/chat/api/messages", json={"text": "你好"})
    assert said.status_code == 200

    response = await browser.get("/chat/api/messages", params={"after": after})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_a_candidate_books_moves_and_cancels_an_interview_in_the_web_chat(
    browser: httpx.AsyncClient, world: World
) -> None:
    """End to end through the page's own endpoint: typed questions and button presses."""
    await world.applicant(1)
    application = await world.application(1)
    issued = await issue_link(world.runtime.settings, application.code, Channel.WEB, actor="t")
    assert issued is not None
    await browser.get(f"/chat?bind={issued.plaintext}")
    await browser.post("/chat/api/messages", json={"event": "start", "event_key": issued.plaintext})
    booking = await booking_world(world)

    async def post(body: dict[str, str]) -> list[dict[str, Any]]:
        response = await browser.post("/chat/api/messages", json=body)
        assert response.status_code == 200
        return list(response.json()["replies"])

    async def press(replies: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
        buttons = [b["payload"] for r in replies for b in r["buttons"]]
        chosen = next(p for p in buttons if p.startswith(prefix))
        return await post({"event": "button", "event_key": chosen})

    offered = await post({"text": "下一轮面试怎么约时间？"})
    assert offered[-1]["buttons"][0]["payload"] == (f'/choose_slot{{"slot_id": "{booking.first}"}}')
    booked = await press(await press(offered, "/choose_slot"), "/confirm_booking")
    assert "预约成功" in booked[-1]["text"]

    moving = await post({"text": booking.move_request()})
    moved = await press(await press(moving, "/choose_slot"), "/confirm_booking")
    assert "已改期" in moved[-1]["text"]

    cancelled = await press(await post({"text": "我要取消面试"}), "/cancel_booking")
    assert "已取消" in cancelled[-1]["text"]

    first, second = await bookings(world, 1)
    assert (first.slot_id, first.state) == (booking.first, BookingState.MOVED)
    assert (second.slot_id, second.state) == (booking.afternoon, BookingState.CANCELLED)
    # The transcript keeps the buttons the page shows again after a reload.
    history = (await browser.get("/chat/api/messages")).json()["messages"]
    assert any(b["payload"].startswith("/cancel_booking") for m in history for b in m["buttons"])
