"""WeCom (企业微信) app callback for HR approvals: `GET` verifies the URL, `POST` carries
HR users' texts (binding codes, rejection reasons) and card button clicks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.deps import RuntimeDep
from api.errors import ApiError, error_body, error_responses
from bot.channels.wechat.envelope import BadSignatureError, CallbackRejectedError
from bot.channels.wecom import WeComCallback
from candor.hr_chat import inbound
from candor.models.enums import HrChatPlatform

router = APIRouter(prefix="/wecom", tags=["wecom"])
MAX_BODY_BYTES = 64 * 1024
CALLBACK = error_responses(
    {404: "WeCom is not configured (`wecom_not_configured`)"},
    {
        400: "A malformed callback, or one that does not decrypt",
        403: "A bad msg_signature, a stale timestamp or a replayed nonce",
        413: "The body is larger than 64 KiB",
    },
)


async def get_wecom(request: Request) -> WeComCallback:
    wecom: WeComCallback | None = getattr(request.app.state, "wecom", None)
    if wecom is None:
        raise ApiError(404, "wecom_not_configured", "WeCom is not configured")
    return wecom


WeComDep = Annotated[WeComCallback, Depends(get_wecom)]


def _signed(request: Request) -> tuple[str, str, str]:
    params = request.query_params
    values = tuple(params.get(name) or "" for name in ("msg_signature", "timestamp", "nonce"))
    if not all(values):
        raise BadSignatureError("msg_signature, timestamp and nonce are required")
    return values[0], values[1], values[2]


def _rejected(exc: CallbackRejectedError) -> JSONResponse:
    code = exc.code.replace("wechat_", "wecom_")
    return JSONResponse(error_body(code, exc.message), status_code=exc.status_code)


@router.get("/callback", summary="URL verification: the decrypted echostr", responses=CALLBACK)
async def verify_callback(request: Request, wecom: WeComDep) -> Response:
    try:
        signature, timestamp, nonce = _signed(request)
        echo = wecom.verify_url(
            signature, timestamp, nonce, request.query_params.get("echostr", "")
        )
    except CallbackRejectedError as exc:
        return _rejected(exc)
    return PlainTextResponse(echo)


@router.post(
    "/callback",
    summary="HR users' texts and card clicks from the WeCom app (always encrypted)",
    responses=CALLBACK,
)
async def receive_callback(request: Request, wecom: WeComDep, runtime: RuntimeDep) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse(
            error_body("wecom_payload_too_large", "the body is larger than 64 KiB"),
            status_code=413,
        )
    try:
        signature, timestamp, nonce = _signed(request)
        message = await wecom.open(signature, timestamp, nonce, body)
    except CallbackRejectedError as exc:
        return _rejected(exc)
    platform = HrChatPlatform.WECOM
    try:
        # Each runs and commits its own transaction before returning, so a failed commit
        # raises here too.
        if message.kind == "text":
            answer = await inbound.receive_text(runtime, platform, message.user, message.content)
        elif message.kind == "click":
            answer = await inbound.receive_click(
                runtime, platform, message.user, message.task_id, message.key
            )
        else:
            return PlainTextResponse("")  # other events (entering the app): nothing to say
    except Exception:
        # Handling or committing failed (the database went away): WeCom retries the same
        # callback, whose nonce must then be accepted again.
        await wecom.release(timestamp, nonce)
        raise
    reply = wecom.reply_text(message.user, answer.text, nonce=nonce, timestamp=timestamp)
    return Response(reply, media_type="application/xml")
