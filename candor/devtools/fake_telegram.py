"""A local stand-in for the Telegram Bot API, for tests, benchmarks and offline development.

It answers `POST /bot<token>/<method>` the way the Bot API does (form-encoded parameters,
`{"ok": true, "result": ...}` answers) for getMe, sendMessage, answerCallbackQuery,
setWebhook, deleteWebhook, getWebhookInfo and getUpdates, and records every message sent.
Answers can be scripted per chat (`state.script("42", 429, 403)`): 429 carries
`parameters.retry_after`, 403 is "bot was blocked by the user", 400 "chat not found".
`state.queue_update(...)` feeds getUpdates for long polling. Run it alone with
`python -m candor.devtools.fake_telegram --port 8901 --token 123:abc`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from candor.devtools.serve import fake_server_arguments, serve_fake

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "Candor",
    "username": "candor_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
SCRIPTED_ERRORS = {
    403: "Forbidden: bot was blocked by the user",
    400: "Bad Request: chat not found",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
}


@dataclass
class FakeTelegramState:
    token: str = "123456:TEST-TOKEN"  # noqa: S105 - a fake server's fake token
    retry_after: int = 1
    sent: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)  # editMessageText calls
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    new_update: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, chat_id: str | int, *statuses: int) -> None:
        self.scripts.setdefault(str(chat_id), []).extend(statuses)

    def sent_to(self, chat_id: str | int) -> list[dict[str, Any]]:
        return [m for m in self.sent if str(m["chat_id"]) == str(chat_id)]

    def text_update(
        self, chat_id: int, text: str, *, update_id: int | None = None
    ) -> dict[str, Any]:
        """An Update a private chat's user sending `text`, as Telegram would deliver it."""
        user = {"id": chat_id, "is_bot": False, "first_name": "Lei", "language_code": "zh-hans"}
        message: dict[str, Any] = {
            "message_id": next(self.message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Lei"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": update_id or next(self.update_ids), "message": message}

    def button_update(self, chat_id: int, data: str) -> dict[str, Any]:
        user = {"id": chat_id, "is_bot": False, "first_name": "Lei"}
        return {
            "update_id": next(self.update_ids),
            "callback_query": {
                "id": f"cq-{next(self.message_ids)}",
                "from": user,
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": next(self.message_ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "from": BOT_USER,
                    "text": "…",
                },
            },
        }

    def queue_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self.new_update.set()


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


async def _parameters(request: Request) -> dict[str, Any]:
    """Bot API parameters: form fields whose non-string values are JSON, or a JSON body."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        return dict(json.loads(body)) if body else {}
    form = await request.form()
    parsed: dict[str, Any] = {}
    for key, value in form.items():
        assert isinstance(value, str)
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


def create_fake_telegram_app(state: FakeTelegramState | None = None) -> Starlette:
    state = state or FakeTelegramState()

    async def method(request: Request) -> Response:
        if request.path_params["token"] != state.token:
            return _error(401, "Unauthorized")
        name = request.path_params["method"]
        params = await _parameters(request)
        state.calls.append((name, params))
        handler = handlers.get(name.lower())
        if handler is None:
            return _error(404, "Not Found")
        return await handler(params)

    async def get_me(_params: dict[str, Any]) -> Response:
        return _ok(BOT_USER)

    async def send_message(params: dict[str, Any]) -> Response:
        chat_id = str(params.get("chat_id", ""))
        script = state.scripts.get(chat_id)
        status = script.pop(0) if script else 200
        if status == 429:
            return _error(
                429,
                SCRIPTED_ERRORS[429].format(retry_after=state.retry_after),
                retry_after=state.retry_after,
            )
        if status != 200:
            return _error(status, SCRIPTED_ERRORS.get(status, "Error"))
        if not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        message = {
            "message_id": next(state.message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0, "type": "private"},
            "from": BOT_USER,
            "text": params["text"],
        }
        state.sent.append({**params, "chat_id": chat_id, "at": time.monotonic(), **message})
        return _ok(message)

    async def edit_message_text(params: dict[str, Any]) -> Response:
        if not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        state.edits.append(params)
        return _ok(True)

    async def answer_callback_query(_params: dict[str, Any]) -> Response:
        return _ok(True)

    async def set_webhook(params: dict[str, Any]) -> Response:
        state.webhook_url = str(params.get("url", ""))
        state.webhook_secret = str(params.get("secret_token", ""))
        return _ok(True)

    async def delete_webhook(_params: dict[str, Any]) -> Response:
        state.webhook_url = state.webhook_secret = ""
        return _ok(True)

    async def get_webhook_info(_params: dict[str, Any]) -> Response:
        return _ok({"url": state.webhook_url, "has_custom_certificate": False,
                    "pending_update_count": 0})  # fmt: skip

    async def get_updates(params: dict[str, Any]) -> Response:
        offset = int(params.get("offset") or 0)
        pending = [u for u in state.updates if u["update_id"] >= offset]
        if not pending:
            state.new_update.clear()
            timeout = min(float(params.get("timeout") or 0), 1.0)
            if timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.new_update.wait(), timeout)
            pending = [u for u in state.updates if u["update_id"] >= offset]
        state.updates = pending
        return _ok(pending)

    handlers = {
        "getme": get_me,
        "sendmessage": send_message,
        "answercallbackquery": answer_callback_query,
        "editmessagetext": edit_message_text,
        "setwebhook": set_webhook,
        "deletewebhook": delete_webhook,
        "getwebhookinfo": get_webhook_info,
        "getupdates": get_updates,
    }

    app = Starlette(routes=[Route("/bot{token}/{method}", method, methods=["GET", "POST"])])
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8901)
    parser.add_argument("--token", default=FakeTelegramState.token)
    args = parser.parse_args()
    serve_fake(
        create_fake_telegram_app(FakeTelegramState(token=args.token)),
        host=args.host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
