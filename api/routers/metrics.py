"""`GET /metrics`: Prometheus' scrape (docs/metrics.md), for the configured networks or a
bearer token only: the figures name no person, but they tell a stranger how busy each channel
is and whether a worker is down."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import RuntimeDep
from api.errors import ApiError, error_responses
from candor.metrics.scrape import render
from candor.settings import Settings

router = APIRouter(tags=["operations"])


def _check_scraper(request: Request, settings: Settings) -> None:
    expected = settings.metrics_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if expected is not None and scheme.lower() == "bearer" and token:
        if hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode()):
            return
        raise ApiError(403, "metrics_forbidden", "wrong metrics token")
    # The peer, or the client a trusted proxy vouches for (ProxyHeadersMiddleware applies
    # CANDOR_TRUSTED_PROXIES before any route runs): never a bare X-Forwarded-For.
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack listener's view of an IPv4 peer
    if address is not None and any(
        address in network for network in settings.metrics_allowed_networks
    ):
        return
    raise ApiError(
        403,
        "metrics_forbidden",
        "/metrics is open to CANDOR_METRICS_ALLOWED_NETWORKS"
        + (" or a bearer token (CANDOR_METRICS_TOKEN)" if expected is not None else ""),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (allowed networks or a bearer token)",
    response_class=Response,
    responses=error_responses({403: "Not from an allowed network and no valid token"}),
)
async def prometheus_metrics(request: Request, runtime: RuntimeDep) -> Response:
    _check_scraper(request, runtime.settings)
    body, content_type = await render(runtime)
    return Response(content=body, media_type=content_type)
