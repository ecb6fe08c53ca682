"""A local stand-in for a delivery provider, speaking the webhook channel's protocol.

It accepts `POST /deliver` and records every delivery with its `Idempotency-Key`, so tests and
benchmarks can count what arrived and what arrived twice. Responses can be scripted per
recipient (`POST /_control/script {"recipient": [503, 429, 200]}`) to exercise retries,
rate limits and permanent failures. `--latency-ms` makes it answer that much after recording
a delivery, like a real provider, which widens the window in which a crashed sender cannot
know the message arrived. Run it alone with
`python -m candor.devtools.fake_channel --port 8900`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from candor.devtools.serve import fake_server_arguments, serve_fake


@dataclass
class FakeChannelState:
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    by_key: collections.Counter[str] = field(default_factory=collections.Counter)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    latency: float = 0.0  # seconds between recording a delivery and answering

    def duplicates(self) -> int:
        return sum(count - 1 for count in self.by_key.values() if count > 1)


def create_fake_channel_app(state: FakeChannelState | None = None) -> Starlette:
    state = state or FakeChannelState()

    async def deliver(request: Request) -> Response:
        payload = await request.json()
        recipient = str(payload.get("recipient", ""))
        script = state.scripts.get(recipient)
        status = script.pop(0) if script else 200
        if status == 429:
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": "0"}
            )
        if status >= 400:
            return JSONResponse({"error": f"scripted {status}"}, status_code=status)
        key = request.headers.get("Idempotency-Key", "")
        state.by_key[key] += 1
        provider_id = f"fake-{next(state.ids)}"
        state.deliveries.append({**payload, "idempotency_key": key, "id": provider_id})
        if state.latency:
            await asyncio.sleep(state.latency)
        return JSONResponse({"id": provider_id})

    async def script(request: Request) -> Response:
        for recipient, statuses in (await request.json()).items():
            state.scripts[str(recipient)] = [int(s) for s in statuses]
        return JSONResponse({"ok": True})

    async def summary(_request: Request) -> Response:
        return JSONResponse(
            {
                "deliveries": len(state.deliveries),
                "unique": len(state.by_key),
                "duplicates": state.duplicates(),
            }
        )

    async def deliveries(_request: Request) -> Response:
        return JSONResponse(state.deliveries)

    app = Starlette(
        routes=[
            Route("/deliver", deliver, methods=["POST"]),
            Route("/_control/script", script, methods=["POST"]),
            Route("/_control/summary", summary),
            Route("/_control/deliveries", deliveries),
        ]
    )
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8900)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    serve_fake(
        create_fake_channel_app(FakeChannelState(latency=args.latency_ms / 1000)),
        host=args.host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
