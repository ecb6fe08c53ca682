"""The fake Bot API (candor.devtools.fake_telegram) served on loopback for a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from candor.devtools.fake_telegram import FakeTelegramState, create_fake_telegram_app
from tests.fakes import serving


@dataclass(frozen=True, slots=True)
class RunningFakeTelegram:
    base: str  # CANDOR_TELEGRAM_API_BASE
    state: FakeTelegramState


@asynccontextmanager
async def running_fake_telegram() -> AsyncIterator[RunningFakeTelegram]:
    state = FakeTelegramState()
    async with serving(create_fake_telegram_app(state)) as origin:
        yield RunningFakeTelegram(base=f"{origin}", state=state)
