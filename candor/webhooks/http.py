"""One webhook request: to the checked address, signed, never following a redirect."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from candor.clock import utcnow
from candor.webhooks import signing
from candor.webhooks.addresses import WebhookUrlError, checked_address, parse_url

EXCERPT_CHARS = 500
# What is read of an answer: enough for the excerpt; the rest is never read (or held).
MAX_RESPONSE_BYTES = 4096
# The request extension bot's lean HTTP/1.1 transport honours to cut a body there (it reads
# whole bodies otherwise); httpx's own transport streams and ignores it.
MAX_RESPONSE_BYTES_EXTENSION = "max_response_bytes"
USER_AGENT = "Candor-Webhooks/1"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    succeeded: bool
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str | None = None
    error: str | None = None


class WebhookClient:
    """Sends webhook requests; one per worker, reusing connections."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        # No proxies from the environment: the connection must go to the checked address.
        # Keep as many connections alive as a batch sends at once, so a busy worker does
        # not open (and leave in TIME_WAIT) new connections every round. The composition
        # root may pass a leaner transport (bot's HTTP/1.1 one: httpx's own costs ~2 ms of
        # CPU a request).
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self, url: str, *, msg_id: str, body: str, signing_secrets: Sequence[str]
    ) -> AttemptOutcome:
        """One attempt, within `timeout` from start to end: resolving the host, connecting,
        sending and reading the answer (httpx's own timeouts are per step, so a receiver
        dripping a byte at a time would otherwise hold the attempt indefinitely)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._attempt(
                    url, msg_id=msg_id, body=body, signing_secrets=signing_secrets, started=started
                )
        except TimeoutError:
            return AttemptOutcome(succeeded=False, latency_ms=_since(started), error="timed out")

    async def _attempt(
        self,
        url: str,
        *,
        msg_id: str,
        body: str,
        signing_secrets: Sequence[str],
        started: float,
    ) -> AttemptOutcome:
        try:
            parsed = parse_url(url)
            address = await checked_address(parsed, allow_private=self.allow_private)
        except WebhookUrlError as exc:
            return AttemptOutcome(succeeded=False, error=exc.message)
        literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
        default_port = 443 if parsed.scheme == "https" else 80
        host_header = parsed.host if ":" not in parsed.host else f"[{parsed.host}]"
        if parsed.port != default_port:
            host_header += f":{parsed.port}"
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": host_header,
            **signing.headers(signing_secrets, msg_id=msg_id, timestamp=utcnow(), body=body),
        }
        extensions: dict[str, object] = {MAX_RESPONSE_BYTES_EXTENSION: MAX_RESPONSE_BYTES}
        if parsed.scheme == "https":
            extensions["sni_hostname"] = parsed.host
        try:
            async with self._http.stream(
                "POST",
                f"{parsed.scheme}://{literal}:{parsed.port}{parsed.target}",
                content=body.encode(),
                headers=headers,
                extensions=extensions,
            ) as response:
                start = await _read_at_most(response, MAX_RESPONSE_BYTES)
        except httpx.TimeoutException:
            return AttemptOutcome(succeeded=False, latency_ms=_since(started), error="timed out")
        except httpx.HTTPError as exc:
            return AttemptOutcome(
                succeeded=False,
                latency_ms=_since(started),
                error=f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS],
            )
        excerpt = _text(start, response.charset_encoding)[:EXCERPT_CHARS]
        status = response.status_code
        if 200 <= status < 300:
            return AttemptOutcome(
                succeeded=True,
                status_code=status,
                latency_ms=_since(started),
                response_excerpt=excerpt,
            )
        error = (
            f"redirect to {response.headers.get('location', '?')!r} not followed"
            if 300 <= status < 400
            else f"HTTP {status}"
        )
        return AttemptOutcome(
            succeeded=False,
            status_code=status,
            latency_ms=_since(started),
            response_excerpt=excerpt,
            error=error[:EXCERPT_CHARS],
        )


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The start of the body; leaving the stream early closes the connection."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk[: limit - len(kept)]
        if len(kept) >= limit:
            break
    return bytes(kept)


def _text(start: bytes, charset: str | None) -> str:
    try:
        return start.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return start.decode("utf-8", errors="replace")


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
