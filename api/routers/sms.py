"""SMS provider callbacks: candidates' replies (TD / 退订 opts out) and delivery receipts.

`POST /sms/{alibaba|tencent}/{replies|receipts}?token=...`. Neither Alibaba's HTTP batch push
nor Tencent's callbacks sign their requests, so the secret `token` in the configured URL
(CANDOR_SMS_CALLBACK_TOKEN, compared in constant time) is what authenticates them, with an
optional allow-list of the providers' addresses (CANDOR_SMS_CALLBACK_ALLOWED_IPS); see
docs/security.md. The token is a query parameter, not a path segment, because the request
log replaces `token` query values and would keep a path as it is. Everything else is
candor.outreach.sms_callbacks'.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import RuntimeDep, SessionDep
from api.errors import ApiError, error_responses
from candor.outreach import sms_callbacks
from candor.outreach.context import outreach_context
from candor.outreach.sms_callbacks import SmsProvider
from candor.settings import Settings

router = APIRouter(prefix="/sms", tags=["channels"])

STATUSES = error_responses(
    {
        400: "`invalid_json`, or `invalid_sms_callback`: not the provider's documented shape "
        "(`details` lists the problems); nothing was applied",
        403: "`forbidden`: missing or wrong token, or a caller outside "
        "CANDOR_SMS_CALLBACK_ALLOWED_IPS",
        404: "`sms_callbacks_disabled`: CANDOR_SMS_CALLBACK_TOKEN is not set",
    }
)
CallbackToken = Annotated[
    str | None,
    Query(max_length=200, description="CANDOR_SMS_CALLBACK_TOKEN, as configured at the provider"),
]
ANY_JSON: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}
}


class AlibabaAck(BaseModel):
    """What Alibaba's push expects back: any numeric code with HTTP 200 stops its retries."""

    code: int = 0
    msg: str = "接收成功"


class TencentAck(BaseModel):
    result: int = 0
    errmsg: str = "OK"


def _check_caller(request: Request, token: str | None, settings: Settings) -> None:
    expected = settings.sms_callback_token
    if expected is None:
        raise ApiError(404, "sms_callbacks_disabled", "SMS callbacks are not configured")
    if token is None or not hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise ApiError(403, "forbidden", "wrong SMS callback token")
    allowed = settings.sms_callback_allowed_ips
    if allowed:
        host = request.client.host if request.client is not None else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is None or not any(address in network for network in allowed):
            raise ApiError(403, "forbidden", "this address may not post SMS callbacks")


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not JSON") from exc


async def _replies(
    provider: SmsProvider,
    token: str | None,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> None:
    _check_caller(request, token, runtime.settings)
    await sms_callbacks.accept_replies(session, provider, await _json(request))


async def _receipts(
    provider: SmsProvider,
    token: str | None,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> None:
    _check_caller(request, token, runtime.settings)
    data = await _json(request)
    context = await outreach_context(session, runtime.settings)
    await sms_callbacks.accept_receipts(session, provider, data, context.quiet_hours)


@router.post(
    "/alibaba/replies",
    response_model=AlibabaAck,
    responses=STATUSES,
    openapi_extra=ANY_JSON,
    summary="Alibaba SmsUp (HTTP batch push): replies; TD / 退订 opts the number out of SMS",
)
async def alibaba_replies(
    request: Request, session: SessionDep, runtime: RuntimeDep, token: CallbackToken = None
) -> AlibabaAck:
    await _replies(SmsProvider.ALIBABA, token, request, session, runtime)
    return AlibabaAck()


@router.post(
    "/alibaba/receipts",
    response_model=AlibabaAck,
    responses=STATUSES,
    openapi_extra=ANY_JSON,
    summary="Alibaba SmsReport (HTTP batch push): delivery receipts settle the message",
)
async def alibaba_receipts(
    request: Request, session: SessionDep, runtime: RuntimeDep, token: CallbackToken = None
) -> AlibabaAck:
    await _receipts(SmsProvider.ALIBABA, token, request, session, runtime)
    return AlibabaAck()


@router.post(
    "/tencent/replies",
    response_model=TencentAck,
    responses=STATUSES,
    openapi_extra=ANY_JSON,
    summary="Tencent SMS reply callback: TD / 退订 opts the number out of SMS",
)
async def tencent_replies(
    request: Request, session: SessionDep, runtime: RuntimeDep, token: CallbackToken = None
) -> TencentAck:
    await _replies(SmsProvider.TENCENT, token, request, session, runtime)
    return TencentAck()


@router.post(
    "/tencent/receipts",
    response_model=TencentAck,
    responses=STATUSES,
    openapi_extra=ANY_JSON,
    summary="Tencent SMS status callback: delivery receipts settle the message",
)
async def tencent_receipts(
    request: Request, session: SessionDep, runtime: RuntimeDep, token: CallbackToken = None
) -> TencentAck:
    await _receipts(SmsProvider.TENCENT, token, request, session, runtime)
    return TencentAck()
