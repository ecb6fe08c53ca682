"""The lean HTTP/1.1 transport the webhook channel uses: real sockets, real servers, on the
default event loop and on uvloop (see conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.channels.http11 import Http11Transport
from bot.channels.webhook import WebhookChannel
from candor.delivery.ports import Delivery, Permanent, RetryAfter, Sent
from candor.models.enums import Channel
from tests.fakes import free_port, running_fake_channel

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def delivery(recipient: str = "lilei@example.com", key: str = "1:1:email") -> Delivery:
    return Delivery(
        idempotency_key=key,
        channel=Channel.EMAIL,
        recipient=recipient,
        subject="面试结果",
        body="恭喜，您已通过 AI 面试。",
        locale="zh-CN",
    )


@asynccontextmanager
async def lean_client(seconds: float = 5.0) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=Http11Transport(max_connections=8), timeout=httpx.Timeout(seconds)
    ) as client:
        yield client


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A bare TCP server answering with whatever bytes `handler` writes."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up first
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/deliver"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_the_webhook_channel_classifies_every_outcome_over_the_lean_transport() -> None:
    async with running_fake_channel() as fake, lean_client() as client:
        channel = WebhookChannel(Channel.EMAIL, fake.url, client=client)
        fake.state.scripts = {
            "a@example.com": [503],
            "b@example.com": [429],
            "c@example.com": [400],
        }

        sent = await channel.send(delivery())
        unavailable = await channel.send(delivery("a@example.com"))
        limited = await channel.send(delivery("b@example.com"))
        refused = await channel.send(delivery("c@example.com"))

    assert sent == Sent(fake.state.deliveries[0]["id"])
    assert fake.state.deliveries[0]["idempotency_key"] == "1:1:email"
    assert fake.state.deliveries[0]["body"] == "恭喜，您已通过 AI 面试。"
    assert unavailable == RetryAfter(5.0, "http 503")
    assert limited == RetryAfter(0.0, "http 429")
    assert isinstance(refused, Permanent)


async def test_concurrent_requests_reuse_kept_alive_connections() -> None:
    async with running_fake_channel() as fake, lean_client() as client:
        channel = WebhookChannel(Channel.EMAIL, fake.url, client=client)
        for _ in range(3):
            results = await asyncio.gather(
                *(channel.send(delivery(key=f"{n}:1:email")) for n in range(40))
            )
            assert all(isinstance(result, Sent) for result in results)
        transport = client._transport
        assert isinstance(transport, Http11Transport)
        idle = sum(len(connections) for connections in transport._idle.values())

    assert len(fake.state.deliveries) == 120
    assert fake.state.duplicates() == 80  # the same 40 keys, three times
    assert 1 <= idle <= 8  # max_connections bounds the pool


async def test_chunked_and_connection_delimited_bodies_are_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"id"\r\n8\r\n: "c-1"}\r\n0\r\n\r\n'
        )
        await writer.drain()
        await read_request(reader)
        # HTTP/1.1 without a length: the body ends when the server closes the connection.
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "e-2"}')
        await writer.drain()
        writer.close()

    async with raw_server(chunked) as url, lean_client() as client:
        channel = WebhookChannel(Channel.EMAIL, url, client=client)
        first = await channel.send(delivery())
        second = await channel.send(delivery())

    assert first == Sent("c-1")
    assert second == Sent("e-2")


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    served = 0

    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal served
        await read_request(reader)
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # keep-alive was implied, but the server hangs up while idle

    async with raw_server(one_per_connection) as url, lean_client() as client:
        channel = WebhookChannel(Channel.EMAIL, url, client=client)
        first = await channel.send(delivery())
        await asyncio.sleep(0.2)
        second = await channel.send(delivery())

    assert (first, second) == (Sent(None), Sent(None))
    assert served == 2


@pytest.mark.parametrize("hang_up", [False, True])
async def test_no_response_is_a_retry_later(hang_up: bool) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if hang_up:
            writer.close()
            return
        await asyncio.sleep(5)

    async with raw_server(silent) as url, lean_client(seconds=0.3) as client:
        result = await WebhookChannel(Channel.EMAIL, url, client=client).send(delivery())

    assert isinstance(result, RetryAfter)
    assert result.reason == ("transport: RemoteProtocolError" if hang_up else "timeout")


async def test_an_unreachable_endpoint_is_a_retry_later() -> None:
    url = f"http://127.0.0.1:{free_port()}/deliver"
    async with lean_client() as client:
        result = await WebhookChannel(Channel.EMAIL, url, client=client).send(delivery())

    assert result == RetryAfter(5.0, "transport: ConnectError")
