"""`POST /telegram/webhook`: updates from Telegram, checked, de-duplicated, handled.

Telegram redelivers an update until it gets a 2xx, so the update id is claimed in Redis
first (a redelivery of a handled update is acknowledged and ignored) and released again if
handling fails, with a 503 so the redelivery is processed.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from telegram import Update

from api.deps import RuntimeDep
from api.errors import ApiError, error_body, error_responses
from bot.channels.telegram import TelegramBot
from bot.lifespan import ChatChannels
from candor.logging import get_logger

log = get_logger(__name__)

router = APIRouter(tags=["channels"])
MAX_BODY_BYTES = 1024 * 1024


def _telegram(request: Request) -> TelegramBot:
    channels: ChatChannels = request.app.state.chat
    if channels.telegram is not None:
        return channels.telegram
    if channels.telegram_unavailable is not None:
        raise ApiError(503, "telegram_unavailable", "the bot could not start; redeliver later")
    raise ApiError(404, "telegram_disabled", "Telegram is not configured on this server")


async def _json_body(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "the update is larger than 1 MiB")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # Nesting deeper than the parser's recursion limit is no update Telegram would send.
        raise ApiError(400, "invalid_json", "the body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise ApiError(400, "invalid_update", "an update object with an integer update_id")
    return data


@router.post(
    "/telegram/webhook",
    summary="Updates from Telegram (setWebhook with secret_token)",
    responses=error_responses(
        {
            400: "Not JSON, or not a Telegram update",
            403: "Missing or wrong X-Telegram-Bot-Api-Secret-Token",
            404: "Telegram is not configured on this server",
            413: "The update is larger than 1 MiB",
            422: "`invalid_request`: the request does not match the schema",
            503: "The bot could not start, or handling failed: redeliver later",
        }
    ),
)
async def telegram_webhook(
    request: Request,
    runtime: RuntimeDep,
    secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
) -> JSONResponse:
    bot = _telegram(request)
    expected = runtime.settings.telegram_webhook_secret
    # Without a configured secret anyone could post updates: refuse them all.
    if (
        expected is None
        or secret is None
        or not hmac.compare_digest(secret.encode(), expected.get_secret_value().encode())
    ):
        raise ApiError(403, "forbidden", "missing or wrong X-Telegram-Bot-Api-Secret-Token")
    data = await _json_body(request)
    try:
        update = Update.de_json(data, bot.bot)
    except Exception as exc:
        raise ApiError(400, "invalid_update", f"not a Telegram update: {exc}") from exc
    if not await bot.claim_update(update.update_id):
        return JSONResponse({"ok": True, "duplicate": True})
    try:
        await bot.handle(update)
    except Exception as exc:
        await bot.release_update(update.update_id)
        log.exception("telegram.update_failed", update_id=update.update_id)
        return JSONResponse(
            error_body("update_failed", f"handling failed, redeliver: {type(exc).__name__}"),
            status_code=503,
        )
    return JSONResponse({"ok": True})
