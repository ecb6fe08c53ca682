"""A local stand-in for the ATS receiving Candor's webhooks, verifying every request's
signature with the `standardwebhooks` library (as an ATS following the specification
would).

`POST /hooks` records each request (its headers, body, and which of the configured secrets
verified it, if any); `GET /_stats` counts them. Answers can be scripted (`state.script`, a
list of statuses taken one per request; a 3xx answers with a `Location`). Run it alone with
`python -m candor.devtools.fake_ats_webhooks --port 8910 --secret whsec_...`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from candor.devtools.serve import fake_server_arguments, serve_fake


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    headers: dict[str, str]
    body: str
    # The index in `secrets` of the first secret that verified it; None: none did.
    verified_by: int | None
    payload: dict[str, Any] | None

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class FakeAtsState:
    secrets: list[str] = field(default_factory=list)
    received: list[ReceivedWebhook] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    redirect_to: str = "http://10.0.0.1/hooks"
    latency: float = 0.0
    # While set, every request waits until it is (an ATS that hangs, for as long as a test
    # needs, without holding the server's shutdown up afterwards).
    hold: asyncio.Event | None = None

    def verified(self) -> list[ReceivedWebhook]:
        return [r for r in self.received if r.verified_by is not None]


def verify(secrets: list[str], body: str, headers: dict[str, str]) -> tuple[int | None, Any]:
    for index, secret in enumerate(secrets):
        try:
            return index, Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            continue
    return None, None


def create_fake_ats_app(state: FakeAtsState | None = None) -> Starlette:
    state = state or FakeAtsState()

    async def hooks(request: Request) -> Response:
        body = (await request.body()).decode()
        headers = dict(request.headers)
        verified_by, payload = verify(state.secrets, body, headers)
        state.received.append(ReceivedWebhook(headers, body, verified_by, payload))
        if state.latency:
            await asyncio.sleep(state.latency)
        if state.hold is not None:
            await state.hold.wait()
        status = state.script.pop(0) if state.script else 200
        if 300 <= status < 400:
            return Response(status_code=status, headers={"location": state.redirect_to})
        if verified_by is None and status < 300:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"ok": status < 300}, status_code=status)

    async def stats(_request: Request) -> Response:
        ids = [r.msg_id for r in state.received]
        return JSONResponse(
            {
                "received": len(ids),
                "verified": len(state.verified()),
                "distinct_ids": len(set(ids)),
            }
        )

    app = Starlette(
        routes=[
            Route("/hooks", hooks, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
        ]
    )
    app.state.fake = state
    return app


def main() -> None:
    parser = fake_server_arguments(__doc__, port=8910)
    parser.add_argument("--secret", action="append", default=[], help="whsec_... (repeatable)")
    args = parser.parse_args()
    serve_fake(
        create_fake_ats_app(FakeAtsState(secrets=args.secret)), host=args.host, port=args.port
    )


if __name__ == "__main__":
    main()
