"""Tencent Cloud SMS (sms 2021-01-11) through its official SDK.

SendSms takes PhoneNumberSet (E.164), SmsSdkAppId, SignName, TemplateId and TemplateParamSet,
the template's `{1}`, `{2}`, ... values in order: `Delivery.sms_params` keys them "1", "2",
... (all positions, no gaps). SessionContext carries the delivery's idempotency key, echoed in
receipts. The SDK signs with TC3-HMAC-SHA256. A refused request comes back as an error code
(raised by the SDK); an accepted one lists each number's status, "Ok" with a SerialNo, kept as
the provider message id, or a per-number code.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from bot.channels.sms.provider import (
    LATER,
    NEXT_DAY,
    SOON,
    Accepted,
    CodeTable,
    ProviderUnavailable,
    Refused,
)

DEFAULT_REGION = "ap-guangzhou"
# The SDK's own codes for a request that never got an answer.
_UNANSWERED = frozenset({"ClientNetworkError", "ServerNetworkError"})

TENCENT_CODES = CodeTable(
    provider="tencent",
    permanent={
        "InvalidParameterValue.IncorrectPhoneNumber": "not a number the provider can text",
        "FailedOperation.PhoneNumberParseFail": "not a number the provider can text",
        "FailedOperation.PhoneNumberInBlacklist": "the number refused texts at the provider",
        "FailedOperation.TemplateIncorrectOrUnapproved": "the template is not approved",
        "FailedOperation.TemplateUnapprovedOrNotExist": "the template is not approved",
        "FailedOperation.TemplateIdNotExist": "the template does not exist",
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "parameters do not match",
        "FailedOperation.SignatureIncorrectOrUnapproved": "the sign name is not approved",
        "FailedOperation.MissingSignature": "the sign name is missing",
        "FailedOperation.ContainSensitiveWord": "the text contains a forbidden word",
        "FailedOperation.JsonParseFail": "the request is malformed",
        "InvalidParameterValue.TemplateParameterFormatError": "a parameter has the wrong format",
        "InvalidParameterValue.TemplateParameterLengthLimit": "a parameter is too long",
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "no links in parameters",
        "InvalidParameterValue.ContentLengthLimit": "the text is too long",
        "InvalidParameterValue.DirtyWordFound": "the text contains a forbidden word",
        "InvalidParameterValue.SdkAppIdNotExist": "the SdkAppId does not exist",
        "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": "a mainland-only template",
        "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": "an international template",
        "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": "mixed numbers",
        "LimitExceeded.AppCountryOrRegionInBlacklist": "texts to this country are blocked",
        "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "the SdkAppId does not match the key",
        "UnauthorizedOperation.SdkAppIdIsDisabled": "the SdkAppId is disabled",
        "UnauthorizedOperation.RequestIpNotInWhitelist": "this address is not allowed",
        "UnauthorizedOperation.RequestPermissionDeny": "the key may not send SMS",
        "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": "not allowed",
        "MissingParameter.EmptyPhoneNumberSet": "no number",
    },
    retry={
        # Balance or arrears: an operator tops up within hours; see ALIYUN_CODES for why.
        "FailedOperation.InsufficientBalanceInSmsPackage": (LATER, "the SMS package is used up"),
        "UnauthorizedOperation.ServiceSuspendDueToArrears": (LATER, "the account is in arrears"),
        "LimitExceeded.PhoneNumberDailyLimit": (NEXT_DAY, "the number's daily limit"),
        "LimitExceeded.PhoneNumberSameContentDailyLimit": (NEXT_DAY, "same text, daily limit"),
        "LimitExceeded.PhoneNumberOneHourLimit": (LATER, "the number's hourly limit"),
        "LimitExceeded.PhoneNumberThirtySecondLimit": (30.0, "the number's 30-second limit"),
        "LimitExceeded.DeliveryFrequencyLimit": (60.0, "the number's frequency limit"),
        "LimitExceeded.DailyLimit": (NEXT_DAY, "the account's daily limit"),
        "LimitExceeded.AppDailyLimit": (NEXT_DAY, "the application's daily limit"),
        "LimitExceeded.AppGlobalDailyLimit": (NEXT_DAY, "the international daily limit"),
        "LimitExceeded.AppMainlandChinaDailyLimit": (NEXT_DAY, "the mainland daily limit"),
        "LimitExceeded.AppCountryOrRegionDailyLimit": (NEXT_DAY, "the country's daily limit"),
        "FailedOperation.MarketingSendTimeConstraint": (LATER, "outside the allowed hours"),
        "AuthFailure.SignatureExpire": (SOON, "this machine's clock is off"),
        "RequestLimitExceeded": (SOON, "the provider's API rate limit"),
    },
    prefixes={
        "InternalError": (SOON, "the provider's internal error"),
        "AuthFailure": (None, "the key is not usable"),
        "LimitExceeded": (LATER, "a provider limit"),
        "UnauthorizedOperation": (None, "the account may not send this"),
    },
)


def tencent_positions(params: Mapping[str, str]) -> list[str] | None:
    """The values of keys "1".."n" in order, or None when the keys are not exactly those."""
    if set(params) != {str(i) for i in range(1, len(params) + 1)}:
        return None
    return [params[str(i)] for i in range(1, len(params) + 1)]


class TencentSmsClient:
    name = "tencent"
    codes = TENCENT_CODES

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        region: str | None = None,
        endpoint: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self._secret = (secret_id, secret_key)
        self._region = region or DEFAULT_REGION
        self._endpoint = endpoint
        self._timeout = timeout
        self._local = threading.local()  # one SDK client (and its HTTP session) per thread

    def _client(self) -> sms_client.SmsClient:
        client: sms_client.SmsClient | None = getattr(self._local, "client", None)
        if client is None:
            http = HttpProfile(reqTimeout=max(1, round(self._timeout)), keepAlive=True)
            if self._endpoint:
                parts = urlsplit(
                    self._endpoint if "://" in self._endpoint else f"https://{self._endpoint}"
                )
                http.endpoint, http.protocol, http.scheme = parts.netloc, parts.scheme, parts.scheme
            client = self._local.client = sms_client.SmsClient(
                credential.Credential(*self._secret), self._region, ClientProfile(httpProfile=http)
            )
        return client

    def parameter_problem(self, template_code: str, params: Mapping[str, str]) -> str | None:
        if tencent_positions(params) is None:
            return (
                "Tencent templates take positional parameters: sms_params keys must be "
                f'"1".."{len(params)}", got {sorted(params)}'
            )
        return None

    def send(
        self, *, number: str, template_code: str, params: Mapping[str, str], reference: str
    ) -> Accepted | Refused:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [number]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = template_code
        request.TemplateParamSet = tencent_positions(params) or []
        request.SessionContext = reference
        try:
            response = self._client().SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            if code in _UNANSWERED:
                raise ProviderUnavailable(f"tencent unreachable: {exc.get_message()}") from exc
            return Refused(code, exc.get_message() or "")
        except Exception as exc:  # anything the HTTP stack raised outside the SDK's wrapping
            raise ProviderUnavailable(f"tencent unreachable: {exc}") from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise ProviderUnavailable("tencent answered without a status")
        status = statuses[0]
        if status.Code != "Ok":
            return Refused(status.Code or "", status.Message or "")
        return Accepted(status.SerialNo or "")
