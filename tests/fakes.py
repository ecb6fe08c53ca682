"""Real local servers standing in for external providers."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from candor.devtools.fake_channel import FakeChannelState, create_fake_channel_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Stop a `candor` process as Ctrl+C would, killing it if it outlives `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr:
        process.stderr.close()


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port for the block; yields its origin URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no "started" event to await
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True, slots=True)
class RunningFakeChannel:
    url: str
    state: FakeChannelState


@asynccontextmanager
async def running_fake_channel() -> AsyncIterator[RunningFakeChannel]:
    state = FakeChannelState()
    async with serving(create_fake_channel_app(state)) as origin:
        yield RunningFakeChannel(url=f"{origin}/deliver", state=state)
