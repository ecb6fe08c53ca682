"""The SMS channel against local fakes of Alibaba Cloud's and Tencent Cloud's APIs, which
verify each request's signature as the providers do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.channels.configured import configured_senders
from bot.channels.sms.aliyun import AliyunSmsClient
from bot.channels.sms.channel import SmsChannel
from bot.channels.sms.limits import NumberLimits
from bot.channels.sms.provider import SmsProviderClient
from bot.channels.sms.tencent import TencentSmsClient
from candor.clock import BUSINESS_TZ
from candor.delivery.ports import Delivery, Permanent, RetryAfter, Sent
from candor.devtools.fake_sms import FakeSmsState
from candor.models.enums import Channel
from candor.outreach.service import QuietHours
from candor.runtime import Runtime
from candor.settings import Settings, SmsProvider
from tests.conftest import TEST_SECRET
from tests.fake_sms_server import Provider, RunningFakeSms, running_fake_sms
from tests.fakes import free_port

NUMBER = "+8613800138000"
# 10:00 on a weekday in China: outside quiet hours.
MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=BUSINESS_TZ)
TEMPLATE = {"aliyun": "SMS_100001", "tencent": "100001"}
PARAMS = {
    "aliyun": {"name": "李雷", "job": "后端工程师", "link": "https://c.example/r/1"},
    "tencent": {"1": "李雷", "2": "后端工程师", "3": "https://c.example/r/1"},
}


def client_for(
    provider: Provider, endpoint: str, *, secret: str | None = None
) -> SmsProviderClient:
    state = FakeSmsState()
    key = secret or state.access_key_secret
    if provider == "aliyun":
        return AliyunSmsClient(
            access_key_id=state.access_key_id,
            access_key_secret=key,
            sign_name="Candor",
            endpoint=endpoint,
            timeout=5,
        )
    return TencentSmsClient(
        secret_id=state.access_key_id,
        secret_key=key,
        sdk_app_id=state.sdk_app_id,
        sign_name="Candor",
        endpoint=endpoint,
        timeout=5,
    )


def channel_for(
    provider: Provider,
    endpoint: str,
    runtime: Runtime,
    *,
    secret: str | None = None,
    clock: Callable[[], datetime] = lambda: MORNING,
    per_minute: int = 5,
    per_hour: int = 5,
    per_day: int = 5,
) -> SmsChannel:
    limits = NumberLimits(runtime.redis, per_minute=per_minute, per_hour=per_hour, per_day=per_day)
    return SmsChannel(
        client_for(provider, endpoint, secret=secret),
        limits,
        quiet_hours=QuietHours(),
        concurrency=4,
        clock=clock,
    )


def delivery(
    provider: Provider,
    *,
    recipient: str = NUMBER,
    params: dict[str, str] | None = None,
    template: str | None = "default",
    key: str = "7:1:sms",
) -> Delivery:
    return Delivery(
        idempotency_key=key,
        channel=Channel.SMS,
        recipient=recipient,
        subject="",
        body="面试结果",
        locale="zh-CN",
        sms_template_code=TEMPLATE[provider] if template == "default" else template,
        sms_params=PARAMS[provider] if params is None else params,
    )


@pytest.fixture(params=["aliyun", "tencent"])
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[RunningFakeSms]:
    async with running_fake_sms(request.param) as running:
        yield running


async def test_a_text_reaches_the_provider_signed_with_its_template_and_parameters(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)

    result = await channel.send(delivery(fake.provider, recipient="138 0013 8000"))
    await channel.aclose()

    [sent] = fake.state.sent_to(NUMBER)
    assert result == Sent(sent["id"])
    assert sent["template"] == TEMPLATE[fake.provider]
    assert (
        sent["text"]
        == "【Candor】您好李雷，您应聘的后端工程师有了结果，请查看：https://c.example/r/1"
    )
    assert sent["reference"] == "7:1:sms"  # echoed in the provider's receipts
    assert fake.state.refused == []


async def test_an_international_number_is_sent_in_the_providers_format(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)

    result = await channel.send(delivery(fake.provider, recipient="+44 7400 123456"))
    await channel.aclose()

    assert isinstance(result, Sent)
    assert [m["phone"] for m in fake.state.sent] == ["+447400123456"]


async def test_a_wrong_secret_is_refused_by_the_providers_signature_check(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime, secret="not-the-secret")

    result = await channel.send(delivery(fake.provider))
    await channel.aclose()

    assert isinstance(result, Permanent)
    code = {"aliyun": "SignatureDoesNotMatch", "tencent": "AuthFailure.SignatureFailure"}
    assert fake.state.refused == [code[fake.provider]]
    assert code[fake.provider] in result.reason
    assert fake.state.sent == []


@pytest.mark.parametrize(
    ("provider", "code", "outcome", "at_least"),
    [
        ("aliyun", "isv.MOBILE_NUMBER_ILLEGAL", Permanent, 0),
        ("aliyun", "isv.SMS_TEMPLATE_ILLEGAL", Permanent, 0),
        ("aliyun", "isv.SMS_CONTENT_ILLEGAL", Permanent, 0),
        ("aliyun", "isv.AMOUNT_NOT_ENOUGH", RetryAfter, 3600),
        ("aliyun", "isv.BUSINESS_LIMIT_CONTROL", RetryAfter, 3600),
        ("aliyun", "isv.DAY_LIMIT_CONTROL", RetryAfter, 14 * 3600),  # until midnight in China
        ("aliyun", "isp.SYSTEM_ERROR", RetryAfter, 30),
        ("aliyun", "Throttling.User", RetryAfter, 30),
        ("aliyun", "isv.SOMETHING_NEW", RetryAfter, 600),  # unknown: retried, not dropped
        ("aliyun", "HTTP500", RetryAfter, 30),
        ("tencent", "InvalidParameterValue.IncorrectPhoneNumber", Permanent, 0),
        ("tencent", "FailedOperation.TemplateIncorrectOrUnapproved", Permanent, 0),
        ("tencent", "FailedOperation.PhoneNumberInBlacklist", Permanent, 0),
        ("tencent", "FailedOperation.InsufficientBalanceInSmsPackage", RetryAfter, 3600),
        ("tencent", "LimitExceeded.PhoneNumberDailyLimit", RetryAfter, 14 * 3600),
        ("tencent", "LimitExceeded.PhoneNumberThirtySecondLimit", RetryAfter, 30),
        ("tencent", "InternalError.Timeout", RetryAfter, 30),
        ("tencent", "AuthFailure.SecretIdNotFound", Permanent, 0),
        ("tencent", "HTTP500", RetryAfter, 30),
    ],
)
async def test_each_provider_code_is_retried_or_permanent(
    provider: Provider, code: str, outcome: type, at_least: float, runtime: Runtime
) -> None:
    async with running_fake_sms(provider) as fake:
        fake.state.script(NUMBER, code)
        channel = channel_for(provider, fake.endpoint, runtime)
        result = await channel.send(delivery(provider))
        await channel.aclose()

    assert isinstance(result, outcome)
    assert fake.state.refused == [code]
    if isinstance(result, RetryAfter):
        assert result.seconds >= at_least
    assert fake.state.sent == []


async def test_an_unreachable_provider_is_retried(runtime: Runtime) -> None:
    channel = channel_for("aliyun", f"http://127.0.0.1:{free_port()}", runtime)

    result = await channel.send(delivery("aliyun"))
    await channel.aclose()

    assert isinstance(result, RetryAfter)
    assert "unreachable" in result.reason


@pytest.mark.parametrize("number", ["12345", "010 6552 9988", "+86 10 6552 9988", "7400123456"])
async def test_a_number_that_cannot_take_a_text_is_permanent(
    fake: RunningFakeSms, runtime: Runtime, number: str
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)

    result = await channel.send(delivery(fake.provider, recipient=number))
    await channel.aclose()

    assert isinstance(result, Permanent)
    assert fake.state.sent == []
    assert fake.state.refused == []


async def test_a_message_without_an_sms_template_is_permanent(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)

    result = await channel.send(delivery(fake.provider, template=None, params={}))
    await channel.aclose()

    assert isinstance(result, Permanent)
    assert "no SMS template" in result.reason


async def test_tencent_refuses_parameters_that_are_not_positions(runtime: Runtime) -> None:
    async with running_fake_sms("tencent") as fake:
        channel = channel_for("tencent", fake.endpoint, runtime)
        result = await channel.send(delivery("tencent", params={"name": "李雷", "2": "x"}))
        await channel.aclose()

    assert isinstance(result, Permanent)
    assert "positional" in result.reason
    assert fake.state.sent == []


async def test_parameters_that_do_not_fit_the_template_are_permanent(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)
    short = {"aliyun": {"name": "李雷"}, "tencent": {"1": "李雷"}}[fake.provider]

    result = await channel.send(delivery(fake.provider, params=short))
    await channel.aclose()

    assert isinstance(result, Permanent)
    assert fake.state.refused == [
        {
            "aliyun": "isv.TEMPLATE_MISSING_PARAMETERS",
            "tencent": "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        }[fake.provider]
    ]


async def test_a_second_text_within_the_minute_waits_for_the_next_minute(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    now = MORNING + timedelta(seconds=20)
    channel = channel_for(fake.provider, fake.endpoint, runtime, clock=lambda: now, per_minute=1)

    first = await channel.send(delivery(fake.provider, key="1:1:sms"))
    second = await channel.send(delivery(fake.provider, key="2:1:sms"))
    await channel.aclose()

    assert isinstance(first, Sent)
    assert second == RetryAfter(40.0, "sms: the number's send limit")
    assert len(fake.state.sent) == 1


async def test_the_daily_limit_holds_texts_until_midnight_in_china_across_processes(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    evening = datetime(2026, 12, 2, 20, 0, tzinfo=BUSINESS_TZ)
    times = iter(evening + timedelta(minutes=10 * i) for i in range(10))
    # Two channels stand for two worker processes sharing Redis.
    channels = [
        channel_for(fake.provider, fake.endpoint, runtime, clock=lambda: next(times), per_day=2)
        for _ in range(2)
    ]

    results = [await channels[i % 2].send(delivery(fake.provider, key=f"{i}")) for i in range(3)]
    for channel in channels:
        await channel.aclose()

    assert [type(r) for r in results] == [Sent, Sent, RetryAfter]
    third = results[2]
    assert isinstance(third, RetryAfter)
    assert third.seconds == (4 * 3600) - 20 * 60  # from 20:20 to midnight
    assert len(fake.state.sent) == 2


async def test_a_refused_text_gives_its_slot_back(fake: RunningFakeSms, runtime: Runtime) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime, per_minute=1)
    fake.state.script(NUMBER, "isp.SYSTEM_ERROR" if fake.provider == "aliyun" else "InternalError")

    refused = await channel.send(delivery(fake.provider, key="1"))
    retried = await channel.send(delivery(fake.provider, key="1"))
    await channel.aclose()

    assert isinstance(refused, RetryAfter)
    assert isinstance(retried, Sent)  # the refusal did not count against the minute


async def test_an_unanswered_text_keeps_its_slot(fake: RunningFakeSms, runtime: Runtime) -> None:
    """A 5xx may or may not have reached the phone: it counts, so a retry stays under the
    number's limits either way."""
    channel = channel_for(fake.provider, fake.endpoint, runtime, per_minute=1)
    fake.state.script(NUMBER, "HTTP500")

    first = await channel.send(delivery(fake.provider))
    used = await channel.limits.used(NUMBER, MORNING)
    await channel.aclose()

    assert isinstance(first, RetryAfter)
    assert used == {"minute": 1, "hour": 1, "day": 1}


@pytest.mark.parametrize(
    ("local", "wait_hours"),
    [((23, 0), 9.0), ((2, 30), 5.5), ((21, 0), 11.0), ((7, 59), 1 / 60)],
)
async def test_a_text_due_in_quiet_hours_waits_for_the_morning(
    fake: RunningFakeSms, runtime: Runtime, local: tuple[int, int], wait_hours: float
) -> None:
    night = datetime(2026, 12, 2, *local, tzinfo=BUSINESS_TZ).astimezone(UTC)
    channel = channel_for(fake.provider, fake.endpoint, runtime, clock=lambda: night)

    result = await channel.send(delivery(fake.provider))
    await channel.aclose()

    assert isinstance(result, RetryAfter)
    assert result.reason == "sms: quiet hours"
    assert result.seconds == pytest.approx(wait_hours * 3600)
    assert fake.state.sent == []


async def test_sends_run_off_the_event_loop_in_parallel(
    fake: RunningFakeSms, runtime: Runtime
) -> None:
    channel = channel_for(fake.provider, fake.endpoint, runtime)
    numbers = [f"+86139{i:08d}" for i in range(8)]

    results = await asyncio.gather(
        *(channel.send(delivery(fake.provider, recipient=n, key=n)) for n in numbers)
    )
    await channel.aclose()

    assert all(isinstance(r, Sent) for r in results)
    assert sorted(m["phone"] for m in fake.state.sent) == numbers


async def test_the_sms_sender_is_registered_when_a_provider_is_configured(
    runtime: Runtime,
) -> None:
    aliyun = Settings(
        env="test",
        secret_key=TEST_SECRET,
        sms_provider=SmsProvider.ALIYUN,
        sms_access_key_id="LTAI-test-key",
        sms_access_key_secret=SecretStr("s"),
        sms_sign_name="Candor",
    )
    tencent_without_app = aliyun.model_copy(update={"sms_provider": SmsProvider.TENCENT})

    senders = configured_senders(aliyun, runtime.redis)
    sms = senders[Channel.SMS]
    await sms.aclose()

    assert isinstance(sms, SmsChannel)
    assert Channel.SMS not in configured_senders(tencent_without_app, runtime.redis)
    assert Channel.SMS not in configured_senders(
        Settings(env="test", secret_key=TEST_SECRET), runtime.redis
    )
