"""The dispatcher's sender for Channel.SMS, over either provider (see provider.py).

Before a text leaves, in this order:
- the recipient must be a mobile number (E.164 after `candor.sms.normalize_mobile`), and the
  message must carry the provider's template code (providers send only approved templates):
  otherwise Permanent, and the dispatcher moves on to the candidate's next channel;
- quiet hours (China time, 21:00-08:00 by default): a text due at night is RetryAfter until
  they end, never sent;
- the per-number limits (limits.py): over one, RetryAfter until its window opens.
The SDKs block, so each send runs in this channel's bounded thread pool, never on the event
loop; the provider's answer is classified by its code table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

from redis.asyncio import Redis

from bot.channels.sms.limits import NumberLimits
from bot.channels.sms.provider import Accepted, ProviderUnavailable, SmsProviderClient
from candor.clock import utcnow
from candor.delivery.ports import Delivery, Permanent, RetryAfter, SendResult, Sent
from candor.delivery.sms_numbers import InvalidMobileNumberError, normalize_mobile
from candor.logging import get_logger
from candor.models.enums import Channel
from candor.outreach.service import QuietHours
from candor.settings import Settings, SmsProvider

log = get_logger(__name__)

UNAVAILABLE_RETRY = 30.0


class SmsChannel:
    channel = Channel.SMS

    def __init__(
        self,
        provider: SmsProviderClient,
        limits: NumberLimits,
        *,
        quiet_hours: QuietHours,
        concurrency: int = 16,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.provider = provider
        self.limits = limits
        self.quiet_hours = quiet_hours
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sms")

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> SmsChannel:
        return cls(
            provider_from_settings(settings),
            NumberLimits(
                redis,
                per_minute=settings.sms_per_number_per_minute,
                per_hour=settings.sms_per_number_per_hour,
                per_day=settings.sms_per_number_per_day,
            ),
            quiet_hours=QuietHours(
                start=settings.sms_quiet_hours_start, end=settings.sms_quiet_hours_end
            ),
            concurrency=settings.sms_concurrency,
        )

    async def send(self, delivery: Delivery) -> SendResult:
        try:
            number = normalize_mobile(delivery.recipient)
        except InvalidMobileNumberError as exc:
            return Permanent(f"sms: {exc}")
        if not delivery.sms_template_code:
            return Permanent("sms: the message has no SMS template (template code) to send")
        problem = self.provider.parameter_problem(delivery.sms_template_code, delivery.sms_params)
        if problem is not None:
            return Permanent(f"sms: {problem}")
        now = self.clock()
        allowed = self.quiet_hours.next_allowed(now)
        if allowed > now:
            return RetryAfter((allowed - now).total_seconds(), "sms: quiet hours")
        slot = await self.limits.take(number, now)
        if isinstance(slot, float):
            return RetryAfter(slot, "sms: the number's send limit")
        send = partial(
            self.provider.send,
            number=number,
            template_code=delivery.sms_template_code,
            params=dict(delivery.sms_params),
            reference=delivery.idempotency_key,
        )
        try:
            answer = await asyncio.get_running_loop().run_in_executor(self._pool, send)
        except ProviderUnavailable as exc:
            return RetryAfter(UNAVAILABLE_RETRY, f"sms: {exc}")
        if isinstance(answer, Accepted):
            return Sent(answer.message_id)
        await self.limits.give_back(slot)  # refused: nothing reached the phone
        result = self.provider.codes.classify(answer.code, answer.message, self.clock())
        log.info(
            "sms.refused",
            provider=self.provider.name,
            code=answer.code,
            permanent=isinstance(result, Permanent),
        )
        return result

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def provider_from_settings(settings: Settings) -> SmsProviderClient:
    assert settings.sms_access_key_id
    assert settings.sms_access_key_secret
    assert settings.sms_sign_name
    secret = settings.sms_access_key_secret.get_secret_value()
    if settings.sms_provider is SmsProvider.TENCENT:
        from bot.channels.sms.tencent import TencentSmsClient

        assert settings.sms_sdk_app_id
        return TencentSmsClient(
            secret_id=settings.sms_access_key_id,
            secret_key=secret,
            sdk_app_id=settings.sms_sdk_app_id,
            sign_name=settings.sms_sign_name,
            region=settings.sms_region,
            endpoint=settings.sms_endpoint,
            timeout=settings.sms_timeout_seconds,
        )
    from bot.channels.sms.aliyun import AliyunSmsClient

    return AliyunSmsClient(
        access_key_id=settings.sms_access_key_id,
        access_key_secret=secret,
        sign_name=settings.sms_sign_name,
        region=settings.sms_region,
        endpoint=settings.sms_endpoint,
        timeout=settings.sms_timeout_seconds,
    )


def sms_configured(settings: Settings) -> bool:
    """A provider, its key and a sign name (and Tencent's SdkAppId) are all set."""
    return bool(
        settings.sms_provider
        and settings.sms_access_key_id
        and settings.sms_access_key_secret
        and settings.sms_sign_name
        and (settings.sms_provider is not SmsProvider.TENCENT or settings.sms_sdk_app_id)
    )
