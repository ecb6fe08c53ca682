"""/api/v1/webhook-endpoints: admins manage endpoints, see attempts and replay; nobody else."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from candor.clock import utcnow
from candor.models import AuditEntry, IdempotencyKey
from candor.models.enums import Role
from candor.models.webhooks import WebhookEventType
from candor.webhooks import events
from candor.webhooks.http import WebhookClient
from candor.webhooks.queue import WebhookQueue
from tests.outreach_world import World, hr

URL = "/api/v1/webhook-endpoints"
BODY = {
    "url": "https://93.184.215.14/hooks",
    "description": "Moka",
    "event_types": ["candidate.withdrew", "handoff.opened"],
}


async def admin(world: World) -> str:
    _, token = await world.member(Role.ADMIN)
    return token


async def test_an_admin_creates_lists_changes_rotates_and_deletes_an_endpoint(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin(world)

    created = await api.post(URL, json=BODY, headers=hr(token, "k1"))
    assert created.status_code == 200, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["event_types"] == BODY["event_types"]
    assert endpoint["enabled"] is True
    one = f"{URL}/{endpoint['id']}"

    listed = await api.get(URL, headers=hr(token))
    fetched = await api.get(one, headers=hr(token))
    assert [e["id"] for e in listed.json()] == [endpoint["id"]]
    assert "secret" not in fetched.json()  # shown once, at creation
    assert (await api.get(URL, params={"after_id": endpoint["id"]}, headers=hr(token))).json() == []

    changed = await api.patch(
        one, json={"enabled": False, "event_types": ["csat.recorded"]}, headers=hr(token)
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["event_types"]) == (False, ["csat.recorded"])

    rotated = await api.post(f"{one}/rotate-secret", headers=hr(token, "k2"))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in (endpoint["secret"], None)
    assert rotated.json()["previous_secret_expires_at"] is not None

    deleted = await api.delete(one, headers=hr(token))
    assert deleted.status_code == 204
    assert (await api.get(one, headers=hr(token))).status_code == 404

    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "webhook_endpoint")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]


async def test_only_admins_may_touch_endpoints(api: httpx.AsyncClient, world: World) -> None:
    created = await api.post(URL, json=BODY, headers=hr(await admin(world), "k1"))
    one = f"{URL}/{created.json()['id']}"
    _, lead = await world.member(Role.TEAM_LEAD, world.team)

    for token in (world.recruiter_token, lead):
        answers = [
            await api.get(URL, headers=hr(token)),
            await api.post(URL, json=BODY, headers=hr(token, "k2")),
            await api.get(one, headers=hr(token)),
            await api.patch(one, json={"enabled": False}, headers=hr(token)),
            await api.delete(one, headers=hr(token)),
            await api.post(f"{one}/rotate-secret", headers=hr(token, "k3")),
            await api.get(f"{one}/deliveries", headers=hr(token)),
        ]
        assert [a.status_code for a in answers] == [403] * len(answers)
        assert {a.json()["error"]["code"] for a in answers} == {"forbidden"}
    assert (await api.get(URL)).status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"url": "http://127.0.0.1:8000/hooks"}, "webhook_url_refused"),
        ({"url": "http://169.254.169.254/latest"}, "webhook_url_refused"),
        ({"url": "http://[::ffff:10.0.0.1]/h"}, "webhook_url_refused"),
        ({"url": "ftp://ats.example.com/h"}, "webhook_url_invalid"),
        ({"url": "not a url"}, "webhook_url_invalid"),
        ({"url": "https://ats.example.com/" + "x" * 2000}, "invalid_request"),
        ({"event_types": ["candidate.hired"]}, "invalid_request"),
        ({"event_types": []}, "invalid_request"),
        ({"event_types": ["csat.recorded", "csat.recorded"]}, "invalid_request"),
        ({"description": "x" * 201}, "invalid_request"),
        ({"secret": "whsec_mine"}, "invalid_request"),
    ],
)
async def test_bad_input_is_a_422_with_a_clear_code_and_saves_nothing(
    api: httpx.AsyncClient, world: World, change: dict[str, object], code: str
) -> None:
    token = await admin(world)

    answer = await api.post(URL, json={**BODY, **change}, headers=hr(token, "k1"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == code
    assert (await api.get(URL, headers=hr(token))).json() == []


async def test_a_changed_url_is_checked_too(api: httpx.AsyncClient, world: World) -> None:
    token = await admin(world)
    created = await api.post(URL, json=BODY, headers=hr(token, "k1"))

    answer = await api.patch(
        f"{URL}/{created.json()['id']}", json={"url": "http://10.0.0.5/h"}, headers=hr(token)
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "webhook_url_refused"


async def test_an_admin_sees_every_attempt_and_replays_a_delivery(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin(world)
    # A public address that does not answer here: every attempt fails (or times out).
    created = await api.post(
        URL, json={**BODY, "url": "http://93.184.215.14:9/hooks"}, headers=hr(token, "k1")
    )
    assert created.status_code == 200, created.text
    one = f"{URL}/{created.json()['id']}"
    async with world.runtime.transaction() as session:
        event = events.record_event(
            session,
            WebhookEventType.CANDIDATE_WITHDREW,
            ordering_key="application:1",
            data={},
            now=utcnow(),
        )
    worker = WebhookQueue(world.runtime, client=WebhookClient(timeout=0.2, allow_private=False))
    await worker.drain()
    await worker.aclose()

    [delivery] = (await api.get(f"{one}/deliveries", headers=hr(token))).json()
    assert delivery["event_id"] == event.public_id
    assert delivery["state"] == "pending"  # retried later
    attempts = await api.get(f"{one}/deliveries/{delivery['id']}/attempts", headers=hr(token))
    [attempt] = attempts.json()
    assert attempt["succeeded"] is False
    assert attempt["error"]
    assert attempt["latency_ms"] is not None

    replayed = await api.post(f"{one}/deliveries/{delivery['id']}/replay", headers=hr(token, "k2"))
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["state"] == "pending"
    assert replayed.json()["attempts"] == 0
    assert replayed.json()["event_id"] == event.public_id
    # A worker claims it: a replay now would race the worker, and is refused.
    claiming = WebhookQueue(world.runtime, client=WebhookClient(timeout=0.2, allow_private=False))
    [claimed] = await claiming.claim_due()
    await claiming.aclose()
    busy = await api.post(f"{one}/deliveries/{delivery['id']}/replay", headers=hr(token, "k4"))
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "webhook_delivery_in_flight"
    still = await api.get(f"{one}/deliveries/{claimed.delivery_id}", headers=hr(token))
    assert still.json()["state"] == "in_flight"
    assert still.json()["attempts"] == 1
    missing = await api.post(f"{one}/deliveries/{2**62}/replay", headers=hr(token, "k3"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_the_secret_is_shown_once_and_never_kept_for_an_idempotent_replay(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin(world)
    created = await api.post(URL, json=BODY, headers=hr(token, "k1"))
    one = f"{URL}/{created.json()['id']}"
    rotated = await api.post(f"{one}/rotate-secret", headers=hr(token, "k2"))
    secrets = {created.json()["secret"], rotated.json()["secret"]}
    assert None not in secrets

    again = await api.post(URL, json=BODY, headers=hr(token, "k1"))
    rotated_again = await api.post(f"{one}/rotate-secret", headers=hr(token, "k2"))

    for replay, first in ((again, created), (rotated_again, rotated)):
        assert replay.status_code == 200
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == {**first.json(), "secret": None}
    async with world.runtime.sessionmaker() as session:
        kept = (await session.scalars(select(IdempotencyKey.response_body))).all()
    assert kept
    assert not any(secret in json.dumps(body) for body in kept for secret in secrets)
