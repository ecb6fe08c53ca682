"""Fixtures the WeChat channel's tests share: the fake WeChat API and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.wechat_support import RunningFakeWeChat, running_fake_wechat


@pytest.fixture
async def fake_wechat() -> AsyncIterator[RunningFakeWeChat]:
    async with running_fake_wechat() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
