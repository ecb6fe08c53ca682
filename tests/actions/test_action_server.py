"""The actions behind a real rasa-sdk action server (`python -m rasa_sdk --actions actions`),
as a Rasa server calls them: each call opens its own transaction with the same settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.conversation import ConversationGateway
from candor.models import HrTask
from candor.models.dialogue import HrTaskKind
from candor.models.enums import Channel
from candor.models.scheduling import BookingState
from candor.settings import Settings
from tests.booking_chat_world import booking_world, bookings
from tests.dialogue_world import Chat
from tests.fakes import free_port
from tests.outreach_world import World

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, dict[str, object]] = {"responses": {}, "slots": {}, "forms": {}}


@pytest.fixture
def action_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "CANDOR_DATABASE_URL": settings.database_url,
        "CANDOR_REDIS_URL": "memory://",
        "CANDOR_ENV": "test",
        "CANDOR_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the action server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def call(action: str, sender: int, text: str, intent: str) -> dict[str, object]:
    return {
        "next_action": action,
        "sender_id": str(sender),
        "tracker": {
            "sender_id": str(sender),
            "slots": {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.99},
                "entities": [],
            },
            "events": [],
            "active_loop": {},
        },
        "domain": DOMAIN,
        "version": "3.6.21",
    }


async def test_the_action_server_answers_from_the_database_and_commits(
    world: World, action_server: str
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    # The gateway opens the conversation on the first message (here with its placeholder).
    chat = Chat(world, ConversationGateway(world.runtime), "web-user-1")
    await chat.say("你好")
    conversation_id = await chat.conversation_id()
    async with httpx.AsyncClient(base_url=action_server, timeout=30) as http:
        progress = await http.post(
            "/webhook", json=call("action_check_progress", conversation_id, "进度", "ask_progress")
        )
        moved = await http.post(
            "/webhook",
            json=call("action_reschedule", conversation_id, "能改到周五吗", "reschedule"),
        )
    assert progress.status_code == 200
    assert "AP-2026-000001" in progress.json()["responses"][0]["text"]
    assert moved.status_code == 200
    async with world.runtime.sessionmaker() as session:
        task = await session.scalar(select(HrTask))
    assert task is not None
    assert (task.kind, task.details["request"]) == (HrTaskKind.RESCHEDULE, "能改到周五吗")


async def test_booking_and_cancelling_through_the_action_server_commit_each_step(
    world: World, action_server: str
) -> None:
    """The Rasa engine's path: each button's action in its own transaction."""
    await world.applicant(1, bind=[Channel.WEB])
    chat = Chat(world, ConversationGateway(world.runtime), "web-user-1")
    await chat.say("你好")
    conversation_id = await chat.conversation_id()
    booking = await booking_world(world)

    def pressed(action: str, payload: str, **entities: str) -> dict[str, object]:
        body = call(action, conversation_id, payload, payload.split("{")[0].lstrip("/"))
        message = body["tracker"]["latest_message"]  # type: ignore[index]
        message["entities"] = [{"entity": k, "value": v} for k, v in entities.items()]
        return body

    async with httpx.AsyncClient(base_url=action_server, timeout=30) as http:
        offered = await http.post("/webhook", json=pressed("action_offer_slots", "/book_interview"))
        [offer] = offered.json()["responses"]
        assert offer["buttons"][0]["payload"] == f'/choose_slot{{"slot_id": "{booking.first}"}}'
        held = await http.post(
            "/webhook",
            json=pressed("action_hold_slot", "/choose_slot", slot_id=str(booking.first)),
        )
        [row] = await bookings(world, 1)  # committed by the action server
        assert row.state is BookingState.HELD
        assert "active_loop" not in [e["event"] for e in held.json()["events"]]
        # A time tapped while Rasa's form asks for the candidate's own times ends the form,
        # so that Rasa does not return to it and take the next message as those times.
        in_form = pressed("action_hold_slot", "/choose_slot", slot_id=str(booking.first))
        in_form["tracker"]["active_loop"] = {"name": "proposal_form"}  # type: ignore[index]
        held_in_form = await http.post("/webhook", json=in_form)
        ended = [e for e in held_in_form.json()["events"] if e["event"] == "active_loop"]
        assert [e["name"] for e in ended] == [None]
        [row] = [r for r in await bookings(world, 1) if r.state is BookingState.HELD]
        confirmed = await http.post(
            "/webhook",
            json=pressed("action_confirm_booking", "/confirm_booking", booking_id=row.public_id),
        )
        cancelled = await http.post(
            "/webhook",
            json=pressed("action_cancel_booking", "/cancel_booking", booking_id=row.public_id),
        )

    assert "已为你保留" in held.json()["responses"][0]["text"]
    assert "预约成功" in confirmed.json()["responses"][0]["text"]
    assert "已取消" in cancelled.json()["responses"][0]["text"]
    [row] = [r for r in await bookings(world, 1) if r.public_id == row.public_id]
    assert row.state is BookingState.CANCELLED
