"""The fake SMS providers refuse what the real ones refuse: a request changed after signing,
a stale timestamp, a reused nonce, an unknown key. (That the SDKs' own signatures pass is
shown by tests/bot/channels/test_sms.py.)"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from candor.devtools.fake_sms import FakeSmsState, aliyun_signature, tencent_signature
from tests.fake_sms_server import running_fake_sms

QUERY = {
    "PhoneNumbers": "13800138000",
    "SignName": "Candor",
    "TemplateCode": "SMS_100001",
    "TemplateParam": json.dumps({"name": "李雷", "job": "工程师", "link": "x"}),
}


def aliyun_request(
    origin: str,
    *,
    key_id: str | None = None,
    at: float | None = None,
    nonce: str | None = None,
    sent_query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A SendSms request signed as the SDK signs it; `sent_query` replaces the query after."""
    state = FakeSmsState()
    host = origin.removeprefix("http://")
    headers = {
        "host": host,
        "x-acs-action": "SendSms",
        "x-acs-version": "2017-05-25",
        "x-acs-date": datetime.fromtimestamp(at or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    signed = sorted(headers)
    signature = aliyun_signature(
        secret=state.access_key_secret,
        method="POST",
        path="/",
        query=QUERY,
        headers=headers,
        signed_headers=signed,
        payload_hash=headers["x-acs-content-sha256"],
    )
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={key_id or state.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    return {"url": f"{origin}/", "params": sent_query or QUERY, "headers": headers}


async def test_aliyun_takes_a_well_signed_request_and_refuses_each_fault() -> None:
    async with running_fake_sms("aliyun") as fake, httpx.AsyncClient() as http:
        ok = await http.post(**aliyun_request(fake.endpoint, nonce="n-1"))
        replayed = await http.post(**aliyun_request(fake.endpoint, nonce="n-1"))
        tampered = await http.post(
            **aliyun_request(fake.endpoint, sent_query={**QUERY, "PhoneNumbers": "13900139000"})
        )
        stale = await http.post(**aliyun_request(fake.endpoint, at=time.time() - 16 * 60))
        unknown = await http.post(**aliyun_request(fake.endpoint, key_id="LTAI-other"))
        unsigned = await http.post(f"{fake.endpoint}/", params=QUERY)

    assert (ok.status_code, ok.json()["Code"]) == (200, "OK")
    assert [(r.status_code, r.json()["Code"]) for r in (replayed, tampered, stale, unknown)] == [
        (400, "SignatureNonceUsed"),
        (400, "SignatureDoesNotMatch"),
        (400, "InvalidTimeStamp.Expired"),
        (404, "InvalidAccessKeyId.NotFound"),
    ]
    assert unsigned.status_code == 400
    assert unsigned.json()["Code"] == "IncompleteSignature"
    assert all("RequestId" in r.json() for r in (replayed, tampered, stale, unknown))
    assert len(fake.state.sent) == 1


def tencent_request(
    origin: str, *, secret_id: str | None = None, at: int | None = None, body: bytes | None = None
) -> dict[str, Any]:
    state = FakeSmsState()
    signed_body = json.dumps(
        {
            "PhoneNumberSet": ["+8613800138000"],
            "SmsSdkAppId": state.sdk_app_id,
            "SignName": "Candor",
            "TemplateId": "100001",
            "TemplateParamSet": ["李雷", "工程师", "x"],
        }
    ).encode()
    timestamp = at or int(time.time())
    host = origin.removeprefix("http://")
    signature = tencent_signature(
        secret=state.access_key_secret,
        timestamp=timestamp,
        service="sms",
        content_type="application/json",
        host=host,
        body=signed_body,
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "X-TC-Action": "SendSms",
        "X-TC-Version": "2021-01-11",
        "X-TC-Timestamp": str(timestamp),
        "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id or state.access_key_id}/{date}"
        f"/sms/tc3_request, SignedHeaders=content-type;host, Signature={signature}",
    }
    return {"url": f"{origin}/", "content": body or signed_body, "headers": headers}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, None),
        ({"body": b'{"PhoneNumberSet": ["+8613900139000"]}'}, "AuthFailure.SignatureFailure"),
        ({"at": int(time.time()) - 6 * 60}, "AuthFailure.SignatureExpire"),
        ({"secret_id": "AKID-other"}, "AuthFailure.SecretIdNotFound"),
    ],
)
async def test_tencent_takes_a_well_signed_request_and_refuses_each_fault(
    change: dict[str, Any], code: str | None
) -> None:
    async with running_fake_sms("tencent") as fake, httpx.AsyncClient() as http:
        answer = await http.post(**tencent_request(fake.endpoint, **change))

    assert answer.status_code == 200  # Tencent answers every error in the body
    response = answer.json()["Response"]
    if code is None:
        assert response["SendStatusSet"][0]["Code"] == "Ok"
        assert len(fake.state.sent) == 1
    else:
        assert response["Error"]["Code"] == code
        assert "RequestId" in response
        assert fake.state.sent == []
