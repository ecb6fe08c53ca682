"""Local stand-ins for the two SMS providers' APIs, for tests, benchmarks and offline demos.

Each checks a request the way its provider does before anything else, and refuses a bad one
with the provider's own error shape and code:

- Alibaba Cloud (dysmsapi 2017-05-25, `create_fake_aliyun_sms_app`): the OpenAPI V3 signature
  ACS3-HMAC-SHA256 that alibabacloud-tea-openapi signs with by default (canonical request over
  the method, path, sorted query, every signed header and the body's SHA-256), the
  AccessKey ID, the x-acs-date (15 minutes) and a nonce used once. Refusals are HTTP 4xx with
  `{"Code", "Message", "RequestId", "HostId"}`; SendSms answers 200 with `Code` "OK" and a
  `BizId`, or 200 with a business code such as `isv.MOBILE_NUMBER_ILLEGAL`.
- Tencent Cloud (sms 2021-01-11, `create_fake_tencent_sms_app`): TC3-HMAC-SHA256 (the key
  derived from the date and the service, the signed content-type and host, the body's
  SHA-256), the SecretId and the X-TC-Timestamp (5 minutes). Every answer is HTTP 200:
  `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` for a refused request,
  `SendStatusSet[]` with `Code` "Ok" and a `SerialNo` (or a per-number code) otherwise.

Both check the sign name, the template and its parameters against `FakeSmsState.templates`
(Alibaba's `${name}` variables; Tencent's `{1}`, `{2}` positions), record every accepted text
rendered as the phone would show it, and answer a scripted provider code for a number:
`state.script("+8613800138000", "isv.BUSINESS_LIMIT_CONTROL")`; the pseudo-code `HTTP500`
answers a server error. `GET /_control/summary` counts what was taken. Run one alone with
`python -m candor.devtools.fake_sms --provider aliyun --port 8911`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from candor.devtools.serve import fake_server_arguments, serve_fake

SERVER_ERROR = "HTTP500"  # a scripted pseudo-code: the provider answers 500
ALIYUN_TIMESTAMP_SKEW = 15 * 60
TENCENT_TIMESTAMP_SKEW = 5 * 60
ALIYUN_REQUIRED_SIGNED = frozenset(
    {
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    }
)
_ALIYUN_VARIABLE = re.compile(r"\$\{(\w+)\}")
_TENCENT_VARIABLE = re.compile(r"\{(\d+)\}")


@dataclass
class FakeSmsState:
    access_key_id: str = "LTAI-test-key"
    access_key_secret: str = "test-secret"  # noqa: S105 - a fake server's fake secret
    sdk_app_id: str = "1400000001"
    sign_names: set[str] = field(default_factory=lambda: {"Candor"})
    templates: dict[str, str] = field(
        default_factory=lambda: {
            "SMS_100001": "您好${name}，您应聘的${job}有了结果，请查看：${link}",
            "100001": "您好{1}，您应聘的{2}有了结果，请查看：{3}",
        }
    )
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the error codes answered, in order
    scripts: dict[str, list[str]] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def script(self, number: str, *codes: str) -> None:
        """Answer these provider codes, in turn, for sends to `number` (E.164)."""
        self.scripts.setdefault(_e164(number), []).extend(codes)

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["phone"] == _e164(number)]

    def _scripted(self, number: str) -> str | None:
        script = self.scripts.get(_e164(number))
        return script.pop(0) if script else None


def _e164(number: str) -> str:
    digits = number.lstrip("+")
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return f"+86{digits}"
    return f"+{digits}"


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


# --- Alibaba Cloud -------------------------------------------------------------------------


def aliyun_canonical_query(query: dict[str, str]) -> str:
    return "&".join(
        f"{key}={quote(query[key], safe='~')}" for key in sorted(query) if query[key] is not None
    )


def aliyun_signature(
    *,
    secret: str,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    """ACS3-HMAC-SHA256 over the canonical request, as Alibaba Cloud's gateway computes it."""
    canonical_headers = "".join(
        f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            aliyun_canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def _aliyun_error(
    state: FakeSmsState, status: int, code: str, message: str, *, recorded: str | None = None
) -> JSONResponse:
    state.refused.append(recorded or code)
    return JSONResponse(
        {
            "RequestId": _request_id(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
        },
        status_code=status,
    )


def _aliyun_answer(state: FakeSmsState, code: str, message: str) -> JSONResponse:
    state.refused.append(code)
    return JSONResponse({"RequestId": _request_id(), "Code": code, "Message": message})


async def _aliyun_authenticate(
    state: FakeSmsState, request: Request, body: bytes
) -> Response | None:
    authorization = request.headers.get("authorization", "")
    match = re.fullmatch(
        r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)",
        authorization,
    )
    if match is None:
        return _aliyun_error(
            state,
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    key_id, signed, signature = match.groups()
    if key_id != state.access_key_id:
        return _aliyun_error(
            state, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        )
    try:
        stamp = datetime.strptime(request.headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return _aliyun_error(
            state, 400, "MissingTimestamp", "x-acs-date is mandatory for this action."
        )
    if abs(time.time() - stamp.replace(tzinfo=UTC).timestamp()) > ALIYUN_TIMESTAMP_SKEW:
        return _aliyun_error(
            state, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
        )
    signed_headers = signed.split(";")
    payload_hash = request.headers.get("x-acs-content-sha256", "")
    if (
        not set(signed_headers) >= ALIYUN_REQUIRED_SIGNED
        or signed_headers != sorted(signed_headers)
        or payload_hash != hashlib.sha256(body).hexdigest()
    ):
        return _aliyun_error(
            state,
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    expected = aliyun_signature(
        secret=state.access_key_secret,
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        signed_headers=signed_headers,
        payload_hash=payload_hash,
    )
    if not hmac.compare_digest(expected, signature):
        return _aliyun_error(
            state,
            400,
            "SignatureDoesNotMatch",
            "Specified signature does not match our calculation.",
        )
    nonce = request.headers.get("x-acs-signature-nonce", "")
    if nonce in state.nonces:
        return _aliyun_error(
            state, 400, "SignatureNonceUsed", "Specified signature nonce was used already."
        )
    state.nonces.add(nonce)
    return None


def create_fake_aliyun_sms_app(state: FakeSmsState | None = None) -> Starlette:
    state = state or FakeSmsState()

    async def api(request: Request) -> Response:
        body = await request.body()
        refused = await _aliyun_authenticate(state, request, body)
        if refused is not None:
            return refused
        if (
            request.headers.get("x-acs-action") != "SendSms"
            or request.headers.get("x-acs-version") != "2017-05-25"
        ):
            return _aliyun_error(
                state, 404, "InvalidAction.NotFound", "Specified api is not found."
            )
        params = dict(request.query_params)
        phone = params.get("PhoneNumbers", "")
        scripted = state._scripted(phone) if phone else None
        if scripted == SERVER_ERROR:
            return _aliyun_error(
                state,
                500,
                "InternalError",
                "The request processing has failed due to some unknown error.",
                recorded=SERVER_ERROR,
            )
        if scripted is not None:
            return _aliyun_answer(state, scripted, f"scripted: {scripted}")
        if not re.fullmatch(r"\d{6,16}", phone):
            return _aliyun_answer(state, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if params.get("SignName") not in state.sign_names:
            return _aliyun_answer(state, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = state.templates.get(params.get("TemplateCode", ""))
        if template is None:
            return _aliyun_answer(state, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return _aliyun_answer(state, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return _aliyun_answer(state, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if set(_ALIYUN_VARIABLE.findall(template)) - set(values):
            return _aliyun_answer(state, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        text = _ALIYUN_VARIABLE.sub(lambda m: values[m.group(1)], template)
        biz_id = f"{next(state.ids):018d}^0"
        state.sent.append(
            _record(
                "aliyun",
                _e164(phone),
                params["SignName"],
                params["TemplateCode"],
                values,
                text,
                biz_id,
                params.get("OutId"),
            )
        )
        return JSONResponse(
            {"RequestId": _request_id(), "Code": "OK", "Message": "OK", "BizId": biz_id}
        )

    app = Starlette(routes=[Route("/", api, methods=["GET", "POST"]), _summary_route(state)])
    app.state.fake = state
    return app


def _record(
    provider: str,
    phone: str,
    sign: str,
    template: str,
    params: Any,
    text: str,
    provider_id: str,
    reference: str | None,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "phone": phone,
        "sign_name": sign,
        "template": template,
        "params": params,
        "text": f"【{sign}】{text}",
        "id": provider_id,
        "reference": reference,
        "at": time.monotonic(),
    }


def _summary_route(state: FakeSmsState) -> Route:
    """`GET /_control/summary`: what the fake took, for a benchmark in another process."""

    async def summary(_request: Request) -> Response:
        references = [m["reference"] for m in state.sent]
        return JSONResponse(
            {"sent": len(references), "unique": len(set(references)), "refused": len(state.refused)}
        )

    return Route("/_control/summary", summary, methods=["GET"])


# --- Tencent Cloud -------------------------------------------------------------------------


def tencent_signature(
    *, secret: str, timestamp: int, service: str, content_type: str, host: str, body: bytes
) -> str:
    """TC3-HMAC-SHA256 for a POST to `/` signing content-type and host, as Tencent computes it."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = (
        f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n"
        f"{hashlib.sha256(body).hexdigest()}"
    )
    to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n"
        f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    )

    def _hmac(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    key = _hmac(_hmac(_hmac(f"TC3{secret}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# Codes Tencent answers for the whole request; any other scripted code is per number.
TENCENT_REQUEST_LEVEL = (
    "AuthFailure",
    "UnauthorizedOperation",
    "InternalError",
    "RequestLimitExceeded",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
)


def _tencent_error(state: FakeSmsState, code: str, message: str) -> JSONResponse:
    state.refused.append(code)
    return JSONResponse(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": _request_id()}}
    )


def _tencent_authenticate(state: FakeSmsState, request: Request, body: bytes) -> Response | None:
    match = re.fullmatch(
        r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/(\w+)/tc3_request, "
        r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})",
        request.headers.get("authorization", ""),
    )
    if match is None:
        return _tencent_error(
            state, "AuthFailure.InvalidAuthorization", "Credential is not well-formed."
        )
    secret_id, date, service, signature = match.groups()
    if secret_id != state.access_key_id:
        return _tencent_error(
            state,
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        )
    try:
        timestamp = int(request.headers.get("x-tc-timestamp", ""))
    except ValueError:
        return _tencent_error(state, "MissingParameter", "The request is missing X-TC-Timestamp.")
    if abs(time.time() - timestamp) > TENCENT_TIMESTAMP_SKEW:
        return _tencent_error(
            state,
            "AuthFailure.SignatureExpire",
            "Signature expire. Timestamp is out of the allowed range.",
        )
    expected = tencent_signature(
        secret=state.access_key_secret,
        timestamp=timestamp,
        service=service,
        content_type=request.headers.get("content-type", ""),
        host=request.headers.get("host", ""),
        body=body,
    )
    scope_date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    if date != scope_date or service != "sms" or not hmac.compare_digest(expected, signature):
        return _tencent_error(
            state,
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your "
            "signature is correct.",
        )
    return None


def create_fake_tencent_sms_app(state: FakeSmsState | None = None) -> Starlette:
    state = state or FakeSmsState()

    async def api(request: Request) -> Response:
        body = await request.body()
        refused = _tencent_authenticate(state, request, body)
        if refused is not None:
            return refused
        if (
            request.headers.get("x-tc-action") != "SendSms"
            or request.headers.get("x-tc-version") != "2021-01-11"
        ):
            return _tencent_error(state, "InvalidAction", "The action does not exist.")
        try:
            params = json.loads(body)
        except ValueError:
            return _tencent_error(state, "FailedOperation.JsonParseFail", "Failed to parse JSON.")
        numbers = params.get("PhoneNumberSet") or []
        if not numbers:
            return _tencent_error(state, "MissingParameter.EmptyPhoneNumberSet", "No phone number.")
        scripted = {number: state._scripted(number) for number in numbers}
        for code in scripted.values():
            if code == SERVER_ERROR:
                state.refused.append(code)
                return Response("Internal Server Error", status_code=500)
            if code is not None and code.startswith(TENCENT_REQUEST_LEVEL):
                return _tencent_error(state, code, f"scripted: {code}")
        if params.get("SmsSdkAppId") != state.sdk_app_id:
            return _tencent_error(
                state, "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify fail."
            )
        if params.get("SignName") not in state.sign_names:
            return _tencent_error(
                state,
                "FailedOperation.SignatureIncorrectOrUnapproved",
                "Signature is not approved or not exist.",
            )
        template = state.templates.get(str(params.get("TemplateId", "")))
        if template is None:
            return _tencent_error(
                state,
                "FailedOperation.TemplateIncorrectOrUnapproved",
                "Template is not approved or not exist.",
            )
        values = params.get("TemplateParamSet") or []
        positions = {int(p) for p in _TENCENT_VARIABLE.findall(template)}
        if positions != set(range(1, len(values) + 1)) or not all(
            isinstance(v, str) for v in values
        ):
            return _tencent_error(
                state,
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                "Template parameters do not match the approved template.",
            )
        text = _TENCENT_VARIABLE.sub(lambda m: values[int(m.group(1)) - 1], template)
        statuses = []
        for number in numbers:
            code = scripted[number]
            if code is None and not re.fullmatch(r"\+\d{6,16}", str(number)):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            if code is not None:
                state.refused.append(code)
                statuses.append(
                    {
                        "SerialNo": "",
                        "PhoneNumber": number,
                        "Fee": 0,
                        "SessionContext": params.get("SessionContext", ""),
                        "Code": code,
                        "Message": f"scripted: {code}",
                        "IsoCode": "",
                    }
                )
                continue
            serial = f"2645:{next(state.ids):028d}"
            record = _record(
                "tencent",
                number,
                params["SignName"],
                params["TemplateId"],
                values,
                text,
                serial,
                params.get("SessionContext"),
            )
            state.sent.append(record)
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": number,
                    "Fee": 1,
                    "SessionContext": params.get("SessionContext", ""),
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN" if number.startswith("+86") else "XX",
                }
            )
        return JSONResponse({"Response": {"SendStatusSet": statuses, "RequestId": _request_id()}})

    app = Starlette(routes=[Route("/", api, methods=["POST"]), _summary_route(state)])
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8911)
    parser.add_argument("--provider", choices=("aliyun", "tencent"), default="aliyun")
    parser.add_argument("--access-key-id", default=FakeSmsState.access_key_id)
    parser.add_argument("--access-key-secret", default=FakeSmsState.access_key_secret)
    parser.add_argument("--sdk-app-id", default=FakeSmsState.sdk_app_id)
    args = parser.parse_args()
    state = FakeSmsState(
        access_key_id=args.access_key_id,
        access_key_secret=args.access_key_secret,
        sdk_app_id=args.sdk_app_id,
    )
    create = (
        create_fake_aliyun_sms_app if args.provider == "aliyun" else create_fake_tencent_sms_app
    )
    serve_fake(create(state), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
