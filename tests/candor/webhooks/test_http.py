"""One webhook attempt against receivers that misbehave at the socket level: one that drips
its answer a byte at a time, one that answers with a huge body."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bot.channels.http11 import Http11Transport
from candor.webhooks.http import EXCERPT_CHARS, WebhookClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HUGE = 64 * 1024 * 1024


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hooks"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


def client(lean: bool, timeout: float) -> WebhookClient:
    transport: httpx.AsyncBaseTransport | None = Http11Transport() if lean else None
    return WebhookClient(timeout=timeout, allow_private=True, transport=transport)


LEAN = pytest.mark.parametrize("lean", [False, True], ids=["httpx", "http11"])


@LEAN
async def test_a_receiver_dripping_its_answer_is_cut_off_at_the_timeout(lean: bool) -> None:
    done = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(100000):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.05)  # each byte well within httpx's per-read timeout
        except ConnectionError:
            pass
        finally:
            done.set()
            writer.close()

    sender = client(lean, timeout=0.5)
    async with raw_server(drip) as url:
        started = time.monotonic()
        async with asyncio.timeout(10):  # the attempt's own deadline must end it long before
            outcome = await sender.post(url, msg_id="evt_1", body="{}", signing_secrets=[])
        elapsed = time.monotonic() - started
        async with asyncio.timeout(5):
            await done.wait()  # the receiver saw the connection dropped
    await sender.aclose()

    assert not outcome.succeeded
    assert outcome.error == "timed out"
    assert elapsed < 2


@LEAN
async def test_a_huge_answer_is_read_only_as_far_as_the_excerpt_needs(lean: bool) -> None:
    sent = 0
    done = asyncio.Event()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode())
        chunk = b"y" * 65536
        try:
            while sent < HUGE:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass
        finally:
            done.set()
            writer.close()

    sender = client(lean, timeout=10)
    async with raw_server(flood) as url:
        outcome = await sender.post(url, msg_id="evt_1", body="{}", signing_secrets=[])
        async with asyncio.timeout(10):
            await done.wait()
    await sender.aclose()

    assert outcome.succeeded
    assert outcome.response_excerpt == "y" * EXCERPT_CHARS
    assert sent < HUGE // 4  # the rest was never read: the connection was dropped
