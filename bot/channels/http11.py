"""A lean HTTP/1.1 transport for httpx: keep-alive connections on `asyncio.Protocol`, parsed
by httptools (the C parser uvicorn[standard] already brings).

Why: httpx's default transport (httpcore + h11 + anyio) costs about 2 ms of CPU per request
on this project's 2-core reference machine, so a worker spent most of its time inside the
HTTP client and could not pass ~450 deliveries/s however the database work was batched. This
transport costs a fraction of that. httpx still builds every request and response, so callers
keep httpx's API, its exceptions (`ConnectError`, `ReadTimeout`, `RemoteProtocolError`) and
its content decoding.

A request may carry the extension `max_response_bytes`: the body is then cut there and the
connection dropped, so a huge answer is never held (httpx's own transport needs no such
thing: its caller streams the body and stops reading).

Scope: plain `http://` requests with an in-memory body (a gateway on the same host or
network: the webhook channel's case). Anything else (https, streaming bodies) is handed to
httpx's own transport, and `build_senders` does not use this one when a proxy is configured.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import cast

import httptools
import httpx

MAX_IDLE_PER_ORIGIN = 256
# A request extension: keep at most this many bytes of the response body and close the
# connection instead of reading the rest (a caller that only wants an excerpt).
MAX_RESPONSE_BYTES = "max_response_bytes"


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request/response exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._until_eof = False
        self._body_limit: int | None = None
        self._body_size = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection's transport reads and writes, but need not subclass
        # asyncio.Transport: uvloop's (which uvicorn runs) does not.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and self._until_eof:
            self.keep_alive = False
            self._waiter.set_result(None)  # a body delimited by the end of the connection
        else:
            self._waiter.set_exception(
                httpx.RemoteProtocolError(
                    "server disconnected without sending a complete response"
                    + (f": {exc!r}" if exc else "")
                )
            )

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # nothing was asked: an unsolicited or excess response
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._waiter.set_exception(httpx.RemoteProtocolError(f"bad response: {exc}"))
            self.close()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True
        names = {name.lower() for name, _ in self._headers}
        self._until_eof = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and self._status not in (204, 304)
            and self._status >= 200
        )

    def on_body(self, body: bytes) -> None:
        if self._body_limit is None:
            self._body.append(body)
            return
        if self._body_size >= self._body_limit:
            return  # the rest of a chunk already past the limit
        self._body.append(body[: self._body_limit - self._body_size])
        self._body_size += len(body)
        if self._body_size >= self._body_limit and self._waiter and not self._waiter.done():
            # Enough kept: answer with the start, and drop the connection instead of
            # reading (and holding) the rest of the body.
            self.keep_alive = False
            self._waiter.set_result(None)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # the exchange

    async def exchange(
        self, payload: bytes, read_timeout: float | None, body_limit: int | None = None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self.transport is not None
        self._status, self._headers, self._body = 0, [], []
        self._headers_done = self._until_eof = False
        self._body_limit, self._body_size = body_limit, 0
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        try:
            async with asyncio.timeout(read_timeout):
                await self._waiter
        except TimeoutError:
            self.close()
            raise httpx.ReadTimeout("no complete response in time") from None
        except BaseException:
            self.close()
            raise
        finally:
            self._waiter = None
        return self._status, self._headers, b"".join(self._body)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http11Transport(httpx.AsyncBaseTransport):
    """`httpx.AsyncClient(transport=Http11Transport())`; see the module docstring."""

    def __init__(self, *, max_connections: int | None = None) -> None:
        self._idle: defaultdict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.url.scheme != "http"
            or not isinstance(request.stream, httpx.ByteStream)
            or "transfer-encoding" in request.headers
        ):
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport()
            return await self._fallback.handle_async_request(request)
        if self._slots is None:
            return await self._send(request)
        async with self._slots:
            return await self._send(request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        origin = (request.url.host, request.url.port or 80)
        connection = self._idle_connection(origin) or await self._connect(
            origin, timeouts.get("connect")
        )
        head = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        status, headers, body = await connection.exchange(
            b"".join(head) + request.read(),
            timeouts.get("read"),
            request.extensions.get(MAX_RESPONSE_BYTES),
        )
        if connection.keep_alive and not connection.closed:
            idle = self._idle[origin]
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
            else:
                connection.close()
        else:
            connection.close()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _idle_connection(self, origin: tuple[str, int]) -> _Connection | None:
        idle = self._idle[origin]
        while idle:
            connection = idle.pop()
            if not connection.closed:  # connection_lost has already run for closed ones
                return connection
        return None

    async def _connect(self, origin: tuple[str, int], connect_timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(_Connection, *origin)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]}") from None
        except OSError as exc:
            raise httpx.ConnectError(f"connecting to {origin[0]}:{origin[1]}: {exc}") from exc
        return connection

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()
