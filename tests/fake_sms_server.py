"""The fake SMS providers (candor.devtools.fake_sms) served on loopback for a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from candor.devtools.fake_sms import (
    FakeSmsState,
    create_fake_aliyun_sms_app,
    create_fake_tencent_sms_app,
)
from tests.fakes import serving

Provider = Literal["aliyun", "tencent"]


@dataclass(frozen=True, slots=True)
class RunningFakeSms:
    provider: Provider
    endpoint: str  # CANDOR_SMS_ENDPOINT
    state: FakeSmsState


@asynccontextmanager
async def running_fake_sms(provider: Provider) -> AsyncIterator[RunningFakeSms]:
    state = FakeSmsState()
    create = create_fake_aliyun_sms_app if provider == "aliyun" else create_fake_tencent_sms_app
    async with serving(create(state)) as origin:
        yield RunningFakeSms(provider=provider, endpoint=origin, state=state)
