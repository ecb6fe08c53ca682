"""The API app in this process, its lifespan run, behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from candor.runtime import Runtime


@asynccontextmanager
async def app_client(
    runtime: Runtime, base_url: str = "http://candor.test"
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
    ):
        yield http
