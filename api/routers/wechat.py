"""WeChat Official Account callback: `GET` verifies the URL, `POST` carries messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from api.deps import SessionDep
from api.errors import ApiError, error_body, error_responses
from bot.channels.wechat.callback import MAX_BODY_BYTES, CallbackUnavailableError
from bot.channels.wechat.envelope import (
    BadSignatureError,
    CallbackRejectedError,
    PayloadTooLargeError,
    SignedQuery,
)
from bot.channels.wechat.service import WeChatEndpoint
from bot.channels.wechat.subscription import record_answer
from bot.gateway import Gateway
from candor.chat.subscription_prompt import MAX_SCENE

router = APIRouter(prefix="/wechat", tags=["wechat"])
NOT_CONFIGURED = {404: "The WeChat channel is not configured (`wechat_not_configured`)"}
CALLBACK = error_responses(
    NOT_CONFIGURED,
    {
        400: "A malformed or unsupported callback",
        403: "A bad signature, a stale timestamp, a replayed nonce, or plaintext where "
        "encryption is required",
        413: "The body is larger than 64 KiB",
        503: "WeChat or the conversation gateway is unavailable; WeChat retries",
    },
)


# Dependencies are `async def`: FastAPI runs a plain `def` one in its thread pool, a thread
# hop per request for what is an attribute read.
async def get_wechat(request: Request) -> WeChatEndpoint:
    endpoint: WeChatEndpoint | None = getattr(request.app.state, "wechat", None)
    if endpoint is None:
        raise ApiError(404, "wechat_not_configured", "the WeChat channel is not configured")
    return endpoint


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if gateway is None:
        raise ApiError(503, "gateway_unavailable", "no conversation gateway is running")
    return gateway


WeChatDep = Annotated[WeChatEndpoint, Depends(get_wechat)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def _signed_query(request: Request) -> SignedQuery:
    params = request.query_params
    signature, timestamp, nonce = (params.get(n) for n in ("signature", "timestamp", "nonce"))
    if not signature or not timestamp or not nonce:
        raise BadSignatureError("signature, timestamp and nonce are required")
    return SignedQuery(
        signature=signature,
        timestamp=timestamp,
        nonce=nonce,
        encrypt_type=params.get("encrypt_type"),
        msg_signature=params.get("msg_signature"),
    )


def _rejected(exc: CallbackRejectedError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)


def _unavailable(exc: CallbackUnavailableError) -> JSONResponse:
    return JSONResponse(error_body("wechat_unavailable", str(exc)), status_code=503)


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLargeError("the body is larger than 64 KiB")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLargeError("the body is larger than 64 KiB")
    return bytes(body)


@router.get(
    "/callback",
    summary="URL verification: echoes echostr when the signature is right",
    responses=CALLBACK,
)
async def verify_callback(request: Request, wechat: WeChatDep) -> Response:
    try:
        echo = await wechat.callback.verify_url(
            _signed_query(request), request.query_params.get("echostr", "")
        )
    except CallbackRejectedError as exc:
        return _rejected(exc)
    except CallbackUnavailableError as exc:
        return _unavailable(exc)
    return PlainTextResponse(echo)


@router.post(
    "/callback",
    summary="Messages and events from WeChat (plaintext, compatible or safe mode)",
    responses=CALLBACK,
)
async def receive_callback(request: Request, wechat: WeChatDep, gateway: GatewayDep) -> Response:
    try:
        query = _signed_query(request)
        body = await _read_limited(request)
        answer = await wechat.callback.receive(query, body, gateway)
    except CallbackRejectedError as exc:
        return _rejected(exc)
    except CallbackUnavailableError as exc:
        return _unavailable(exc)
    if answer.is_xml:
        return Response(answer.body, media_type="application/xml")
    return PlainTextResponse(answer.body)


ANSWER_PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width">'
    "<title>Candor</title><p>已收到，谢谢。Thank you, noted.</p></html>"
)


@router.get(
    "/subscribe",
    summary="Where WeChat sends a user's answer to a one-time subscription prompt",
    response_class=HTMLResponse,
    responses=error_responses(
        NOT_CONFIGURED,
        {422: "`invalid_request`: the request does not match the schema"},
        {503: "`database_unavailable`: the connection was lost; retry"},
    ),
)
async def subscription_answer(
    wechat: WeChatDep,
    session: SessionDep,
    openid: Annotated[str, Query(min_length=1, max_length=128)],
    template_id: Annotated[str, Query(min_length=1, max_length=128)],
    action: Annotated[str, Query(max_length=32)],
    scene: Annotated[int, Query(ge=0, le=MAX_SCENE)],
    reserved: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    # The same page whatever happened: it must not tell a visitor who is a candidate.
    await record_answer(
        session,
        wechat.state,
        wechat.secret,
        openid=openid,
        template_id=template_id,
        scene=scene,
        action=action,
        reserved=reserved,
    )
    return HTMLResponse(ANSWER_PAGE)
