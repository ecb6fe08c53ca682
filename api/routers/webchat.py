"""The web chat: a page at `/chat` and the JSON endpoint it posts to.

A browser's chat session is a random cookie; the chat identity's external id is its HMAC
under the secret key, so the database never holds a usable session. A `/chat?bind=<token>`
link binds the session like a Telegram `/start` link; the page posts the token (a GET never
spends it, so link previews cannot). JSON-only POSTs are not sendable by cross-site forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, model_validator

from api.deps import RuntimeDep, SessionDep
from api.errors import (
    DATABASE_UNAVAILABLE,
    INVALID_REQUEST,
    UNREADABLE_BODY,
    ApiError,
    error_responses,
)
from bot.conversation import ConversationBusyError
from bot.gateway import Gateway
from candor.chat import transcript
from candor.chat.messages import MAX_TEXT_CHARS, InboundMessage
from candor.clock import utcnow
from candor.ids import RowCursor
from candor.models.enums import Channel

router = APIRouter(tags=["channels"])

COOKIE = "candor_chat"
COOKIE_MAX_AGE = 90 * 24 * 3600
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the bind token is in the URL
    "X-Content-Type-Options": "nosniff",
}
_STATIC = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> str:
    return files("bot.web").joinpath(name).read_text(encoding="utf-8")


class ButtonOut(BaseModel):
    title: str
    payload: str


class ReplyOut(BaseModel):
    text: str
    buttons: list[ButtonOut]


class ChatAnswer(BaseModel):
    replies: list[ReplyOut]
    last_id: int


class ChatPost(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    event: Literal["start", "button"] | None = None
    event_key: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _something(self) -> ChatPost:
        if self.text is None and self.event is None:
            raise ValueError("send text or an event")
        return self


class TranscriptLine(BaseModel):
    id: int
    direction: str
    text: str | None
    buttons: list[ButtonOut]
    at: str


class TranscriptOut(BaseModel):
    messages: list[TranscriptLine]


def _external_id(request: Request, session_cookie: str) -> str:
    key = request.app.state.runtime.settings.secret_key.get_secret_value().encode()
    return "web:" + hmac.new(key, session_cookie.encode(), hashlib.sha256).hexdigest()[:48]


def _session(cookie: str | None) -> str:
    if cookie is None or not 20 <= len(cookie) <= 64:
        raise ApiError(401, "no_chat_session", "open /chat first to start a chat session")
    return cookie


def _gateway(request: Request) -> Gateway:
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if gateway is None:
        raise ApiError(503, "gateway_unavailable", "no conversation gateway is running")
    return gateway


@router.get(
    "/chat",
    response_class=HTMLResponse,
    summary="The web-chat page",
    responses=error_responses(INVALID_REQUEST),
)
async def chat_page(
    request: Request, candor_chat: Annotated[str | None, Cookie()] = None
) -> Response:
    response = HTMLResponse(_asset("chat.html"), headers=SECURITY_HEADERS)
    if candor_chat is None:
        response.set_cookie(
            COOKIE,
            secrets.token_urlsafe(32),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/chat",
        )
    return response


@router.get("/chat/static/{name}", include_in_schema=False)
async def chat_asset(name: str) -> Response:
    if name not in _STATIC:
        raise ApiError(404, "not_found", "no such file")
    return Response(_asset(name), media_type=_STATIC[name], headers=SECURITY_HEADERS)


NO_CHAT_SESSION = {401: "No chat session cookie: open /chat first (`no_chat_session`)"}


@router.post(
    "/chat/api/messages",
    response_model=ChatAnswer,
    summary="Say something in chat",
    responses=error_responses(
        NO_CHAT_SESSION,
        INVALID_REQUEST,
        UNREADABLE_BODY,
        {
            409: "The previous message is still being answered (`chat_busy`)",
            503: "No conversation gateway is running, or the database connection was lost",
        },
    ),
)
async def chat_post(
    request: Request,
    body: ChatPost,
    runtime: RuntimeDep,
    candor_chat: Annotated[str | None, Cookie()] = None,
) -> ChatAnswer:
    external_id = _external_id(request, _session(candor_chat))
    message = InboundMessage(
        channel=Channel.WEB,
        external_user_id=external_id,
        received_at=utcnow(),
        text=body.text,
        event=body.event,
        event_key=body.event_key,
        # After ProxyHeadersMiddleware: a trusted proxy's X-Forwarded-For, else the peer.
        client_address=request.client.host if request.client is not None else None,
    )
    try:
        replies = await _gateway(request).handle(message)
    except ConversationBusyError as exc:
        raise ApiError(409, "chat_busy", "the previous message is still being answered") from exc
    async with runtime.sessionmaker() as session:
        conversation_id = await transcript.conversation_id_of(session, Channel.WEB, external_id)
        last_id = await transcript.last_message_id(session, conversation_id)
    return ChatAnswer(
        replies=[
            ReplyOut(
                text=r.text,
                buttons=[ButtonOut(title=b.title, payload=b.payload) for b in r.buttons],
            )
            for r in replies
        ],
        last_id=last_id,
    )


@router.get(
    "/chat/api/messages",
    response_model=TranscriptOut,
    summary="This session's transcript",
    responses=error_responses(NO_CHAT_SESSION, INVALID_REQUEST, DATABASE_UNAVAILABLE),
)
async def chat_history(
    request: Request,
    session: SessionDep,
    after: Annotated[RowCursor, Query()] = 0,
    candor_chat: Annotated[str | None, Cookie()] = None,
) -> JSONResponse:
    external_id = _external_id(request, _session(candor_chat))
    conversation_id = await transcript.conversation_id_of(session, Channel.WEB, external_id)
    rows = (
        []
        if conversation_id is None
        else await transcript.transcript(session, conversation_id, after_id=after)
    )
    lines = [
        TranscriptLine(
            id=row.id,
            direction=row.direction.value,
            text=row.text,
            buttons=[
                ButtonOut(title=title, payload=payload)
                for title, payload in (row.payload or {}).get("buttons", [])
            ]
            if row.direction.value == "outbound"
            else [],
            at=row.at.isoformat(),
        )
        for row in rows
    ]
    return JSONResponse(TranscriptOut(messages=lines).model_dump(), headers=SECURITY_HEADERS)
