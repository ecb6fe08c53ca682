"""Alibaba Cloud SMS (dysmsapi 2017-05-25) through its official SDK.

SendSms takes PhoneNumbers (a mainland number as 11 digits, any other with its country code
and no "+"), SignName, TemplateCode and TemplateParam, a JSON object of the template's
`${variable}`s: `Delivery.sms_params` is that object, keyed by the variable names. OutId
carries the delivery's idempotency key, which the provider echoes in its receipts. The SDK
signs with ACS3-HMAC-SHA256; "OK" answers come with a BizId, kept as the provider message id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.runtime import RuntimeOptions

from bot.channels.sms.provider import (
    LATER,
    NEXT_DAY,
    SOON,
    Accepted,
    CodeTable,
    ProviderUnavailable,
    Refused,
)
from candor.delivery.sms_numbers import is_mainland_mobile

DEFAULT_REGION = "cn-hangzhou"

ALIYUN_CODES = CodeTable(
    provider="aliyun",
    permanent={
        "isv.MOBILE_NUMBER_ILLEGAL": "not a number the provider can text",
        "isv.MOBILE_COUNT_OVER_LIMIT": "too many numbers in one request",
        "isv.SMS_TEMPLATE_ILLEGAL": "the template does not exist or is not approved",
        "isv.SMS_SIGNATURE_ILLEGAL": "the sign name does not exist or is not approved",
        "isv.SMS_SIGN_ILLEGAL": "the sign name does not exist or is not approved",
        "isv.TEMPLATE_MISSING_PARAMETERS": "the template's variables are not all given",
        "isv.INVALID_JSON_PARAM": "the template parameters are not a JSON object of strings",
        "isv.INVALID_PARAMETERS": "a parameter is invalid",
        "isv.PARAM_LENGTH_LIMIT": "a template variable is too long",
        "isv.PARAM_NOT_SUPPORT_URL": "a template variable may not be a link",
        "isv.BLACK_KEY_CONTROL_LIMIT": "the text contains a forbidden word",
        # The same parameters would be refused again: the next channel takes the result
        # now, as with Tencent's ContainSensitiveWord, rather than after hours of retries.
        "isv.SMS_CONTENT_ILLEGAL": "the provider's content review refused the text",
        "isv.DENY_IP_RANGE": "the provider does not accept texts from this address",
        "isv.ACCOUNT_NOT_EXISTS": "the account does not exist",
        "isv.ACCOUNT_ABNORMAL": "the account is suspended",
        "isv.PRODUCT_UN_SUBSCRIPT": "SMS is not enabled on this account",
        "isv.PRODUCT_UNSUBSCRIBE": "SMS is not enabled on this account",
        "isp.RAM_PERMISSION_DENY": "the access key may not send SMS",
        "InvalidAccessKeyId.NotFound": "the access key is wrong",
        "InvalidAccessKeyId.Inactive": "the access key is disabled",
        "SignatureDoesNotMatch": "the access key secret is wrong",
        "IncompleteSignature": "the request was not signed as the provider requires",
        "Forbidden.RAM": "the access key may not send SMS",
    },
    retry={
        # Balance or arrears: a top-up fixes it within hours and says nothing about this
        # candidate, so the text waits (up to the dispatcher's attempts) instead of every
        # candidate's result moving to another channel at once.
        "isv.AMOUNT_NOT_ENOUGH": (LATER, "the account balance is too low"),
        "isv.OUT_OF_SERVICE": (LATER, "the account is in arrears"),
        # The provider's own per-number flow control (1/min, 5/h, 10/day by default).
        "isv.BUSINESS_LIMIT_CONTROL": (LATER, "the provider's per-number limit"),
        "isv.DAY_LIMIT_CONTROL": (NEXT_DAY, "the account's daily limit"),
        "isp.SYSTEM_ERROR": (SOON, "the provider's system error"),
        "isp.GATEWAY_ERROR": (SOON, "the operator's gateway failed"),
        "InvalidTimeStamp.Expired": (SOON, "this machine's clock is off"),
        "SignatureNonceUsed": (SOON, "a nonce was reused"),
        "ServiceUnavailable": (SOON, "the provider is unavailable"),
        "InternalError": (SOON, "the provider's internal error"),
    },
    prefixes={
        "Throttling": (SOON, "the provider's API rate limit"),
        "isp.": (SOON, "a fault on the provider's side"),
        "InvalidAccessKeyId": (None, "the access key is not usable"),
    },
)


def aliyun_phone_number(e164: str) -> str:
    """Mainland numbers as 11 digits; any other as country code and number, without "+"."""
    return e164[3:] if is_mainland_mobile(e164) else e164.lstrip("+")


class AliyunSmsClient:
    name = "aliyun"
    codes = ALIYUN_CODES

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        region: str | None = None,
        endpoint: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sign_name = sign_name
        self._config = {
            "access_key_id": access_key_id,
            "access_key_secret": access_key_secret,
            "region_id": region or DEFAULT_REGION,
            "connect_timeout": int(min(timeout, 3.0) * 1000),
            "read_timeout": int(timeout * 1000),
        }
        if endpoint:
            # The SDK takes a host and a protocol: "http" for a loopback fake or a gateway.
            parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            self._config |= {"endpoint": parts.netloc, "protocol": parts.scheme}
        self._local = threading.local()  # one SDK client (and its connection pool) per thread

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(utils_models.Config(**self._config))
        return client

    def parameter_problem(self, template_code: str, params: Mapping[str, str]) -> str | None:
        return None  # any JSON object of strings; the provider checks it against the template

    def send(
        self, *, number: str, template_code: str, params: Mapping[str, str], reference: str
    ) -> Accepted | Refused:
        request = dysms.SendSmsRequest(
            phone_numbers=aliyun_phone_number(number),
            sign_name=self.sign_name,
            template_code=template_code,
            template_param=json.dumps(dict(params), ensure_ascii=False) if params else None,
            out_id=reference,
        )
        try:
            response = self._client().send_sms_with_options(request, RuntimeOptions())
        except AlibabaCloudException as exc:
            status = getattr(exc, "status_code", None) or 0
            if status >= 500 or not exc.code:
                raise ProviderUnavailable(f"aliyun {status}: {exc.code} {exc.message}") from exc
            return Refused(str(exc.code), str(exc.message))
        except Exception as exc:  # requests' connection errors and timeouts, wrapped by Tea
            raise ProviderUnavailable(f"aliyun unreachable: {exc}") from exc
        body = response.body
        if body is None or body.code is None:
            raise ProviderUnavailable("aliyun answered without a code")
        if body.code != "OK":
            return Refused(body.code, body.message or "")
        return Accepted(body.biz_id or "")
