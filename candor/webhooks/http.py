"""One webhook request: to the checked address, signed, never following a redirect."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from candor.clock import utcnow
from candor.webhooks import signing
from candor.webhooks.addresses import WebhookUrlError, checked_address, parse_url

EXCERPT_CHARS = 500
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
        started = time.monotonic()
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
        try:
            response = await self._http.post(
                f"{parsed.scheme}://{literal}:{parsed.port}{parsed.target}",
                content=body.encode(),
                headers=headers,
                extensions={"sni_hostname": parsed.host} if parsed.scheme == "https" else {},
            )
        except httpx.TimeoutException:
            return AttemptOutcome(succeeded=False, latency_ms=_since(started), error="timed out")
        except httpx.HTTPError as exc:
            return AttemptOutcome(
                succeeded=False,
                latency_ms=_since(started),
                error=f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS],
            )
        excerpt = response.text[:EXCERPT_CHARS]
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


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
