"""Where a webhook may go: http(s) URLs of public addresses only (SSRF protection).

An endpoint URL is checked when an admin saves it and again on every send. On a send the
host is resolved once, every address it resolves to must be public, and the request then
connects to that checked address (the URL's host is kept for `Host` and TLS), so a name
that resolves elsewhere between the check and the connection (DNS rebinding) cannot steer
it. Redirects are never followed (candor.webhooks.http). Loopback, private, link-local,
carrier-grade NAT, multicast, reserved and unspecified ranges are refused, IPv4 and IPv6
alike, including IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) or carried inside one
by 6to4 (`2002:7f00:1::`) or Teredo, and IPv6 site-local `fec0::/10`, unless the admin
setting `CANDOR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS` allows them for an on-premise ATS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from candor.errors import CandorError

MAX_URL_LENGTH = 2000
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlError(CandorError, ValueError):
    code = "webhook_url_invalid"
    http_status = 422


class WebhookUrlRefusedError(WebhookUrlError):
    """The URL points at an address webhooks may not reach."""

    code = "webhook_url_refused"


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    url: str
    scheme: str
    host: str  # ASCII (IDNA for an internationalised name), no brackets for an IPv6 literal
    port: int
    target: str  # path and query, as sent


def parse_url(url: str) -> WebhookUrl:
    """A syntactically valid http(s) URL with a host, or `WebhookUrlError`."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(f"url: at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise WebhookUrlError("url: no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlError(f"url: {exc}") from exc
    if parts.scheme not in SCHEMES:
        raise WebhookUrlError("url: only http and https URLs are accepted")
    if not parts.hostname:
        raise WebhookUrlError("url: give a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("url: no user name or password in the URL; the payload is signed")
    if parts.fragment:
        raise WebhookUrlError("url: no fragment (#...)")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return WebhookUrl(
        url=url,
        scheme=parts.scheme,
        host=_ascii_host(parts.hostname),
        port=port or (443 if parts.scheme == "https" else 80),
        target=target,
    )


def _ascii_host(host: str) -> str:
    """An internationalised name in its IDNA (punycode) form, as DNS, `Host` and TLS SNI
    need it: `exämple.com` is sent as `xn--exmple-cua.com`."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise WebhookUrlError(f"url: the host {host} is not a valid domain name ({exc})") from exc


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not reach `address`; None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            mapped = refusal(address.ipv4_mapped)
            return f"IPv4-mapped {mapped}" if mapped else None
        # Tunnels carry an IPv4 address inside: a relay would deliver to it.
        if address.sixtofour is not None and (embedded := refusal(address.sixtofour)):
            return f"6to4 {embedded}"
        if address.teredo is not None and (embedded := refusal(address.teredo[1])):
            return f"Teredo {embedded}"
        if address.is_site_local:
            return f"site-local address {address}"
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return f"{label} address {address}"
    if not address.is_global:
        return f"non-public address {address}"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_address(address: IPAddress, *, allow_private: bool) -> None:
    reason = refusal(address)
    if reason is not None and not allow_private:
        raise WebhookUrlRefusedError(
            f"url: refused, it reaches a {reason} (see CANDOR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS)"
        )


async def resolve(host: str, port: int) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookUrlError(f"url: the host {host} does not resolve ({exc})") from exc
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"); the address is before it.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise WebhookUrlError(f"url: the host {host} does not resolve")
    return found


async def check_on_save(url: str, *, allow_private: bool) -> WebhookUrl:
    """The admin's URL, refused if it is malformed or reaches a non-public address. A name
    that does not resolve yet is accepted (the ATS may not be live); the check on every
    send still applies."""
    parsed = parse_url(url)
    try:
        addresses = await resolve(parsed.host, parsed.port)
    except WebhookUrlRefusedError:
        raise
    except WebhookUrlError:
        return parsed
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return parsed


async def checked_address(parsed: WebhookUrl, *, allow_private: bool) -> IPAddress:
    """The address a send connects to: every address of the host must pass, so a name with
    one public and one private record is refused rather than raced."""
    addresses = await resolve(parsed.host, parsed.port)
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses[0]
