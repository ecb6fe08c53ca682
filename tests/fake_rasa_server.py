"""A local stand-in for a Rasa server's REST channel: it records what it was sent and answers
like Rasa does (a list of messages for the sender), calling our real action server when told
which action to run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import serving


@dataclass
class FakeRasa:
    received: list[dict[str, Any]] = field(default_factory=list)
    tracker_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answer: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    # What the tracker's latest message says Rasa understood (None: no latest message).
    intent: str | None = None
    # When set, the tracker answers only once this is (a slow Rasa).
    tracker_released: asyncio.Event | None = None


@dataclass(frozen=True, slots=True)
class RunningFakeRasa:
    url: str
    state: FakeRasa


def create_fake_rasa_app(state: FakeRasa) -> Starlette:
    async def webhook(request: Request) -> Response:
        body = await request.json()
        state.received.append(body)
        if state.status != 200:
            return JSONResponse({"error": "scripted"}, status_code=state.status)
        return JSONResponse(
            [{"recipient_id": body["sender"], **message} for message in state.answer]
        )

    async def append_events(request: Request) -> Response:
        events = await request.json()
        state.tracker_events.setdefault(request.path_params["sender"], []).extend(events)
        return JSONResponse({"sender_id": request.path_params["sender"]})

    async def tracker(request: Request) -> Response:
        if state.tracker_released is not None:
            await state.tracker_released.wait()
        latest = {"intent": {"name": state.intent, "confidence": 0.9}} if state.intent else {}
        return JSONResponse({"sender_id": request.path_params["sender"], "latest_message": latest})

    return Starlette(
        routes=[
            Route("/conversations/{sender}/tracker", tracker, methods=["GET"]),
            Route("/webhooks/rest/webhook", webhook, methods=["POST"]),
            Route("/conversations/{sender}/tracker/events", append_events, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def running_fake_rasa() -> AsyncIterator[RunningFakeRasa]:
    state = FakeRasa()
    async with serving(create_fake_rasa_app(state)) as origin:
        yield RunningFakeRasa(url=f"{origin}", state=state)
