"""Webhook endpoints in the console (admins only): add, change, rotate, see attempts, replay."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from candor.clock import utcnow
from candor.models import AuditEntry, WebhookDelivery, WebhookEndpoint
from candor.models.enums import Role
from candor.models.webhooks import WebhookEventType
from candor.webhooks import events
from candor.webhooks.http import WebhookClient
from candor.webhooks.queue import WebhookQueue
from tests.console_world import logged_in, post_form
from tests.outreach_world import World

BASE = "/console/admin/webhooks"
_SECRET = re.compile(r'aria-label="Signing secret" value="(whsec_[^"]+)"')
PUBLIC_URL = "http://93.184.215.14:9/hooks"  # public, and answers nothing here


async def as_admin(console: httpx.AsyncClient, world: World) -> str:
    admin, _ = await world.member(Role.ADMIN)
    return await logged_in(console, world.runtime, admin.id)


async def endpoints(world: World) -> list[WebhookEndpoint]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(WebhookEndpoint))).all())


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.TEAM_LEAD])
async def test_only_admins_reach_the_webhook_pages(
    console: httpx.AsyncClient, world: World, role: Role
) -> None:
    member, _ = await world.member(role, world.team)
    csrf = await logged_in(console, world.runtime, member.id)

    for path in (BASE, f"{BASE}/1"):
        answer = await console.get(path)
        assert answer.status_code == 403, path
        assert "only an admin" in answer.text
    created = await post_form(
        console, BASE, csrf, url=PUBLIC_URL, event_types=["csat.recorded"], enabled="on"
    )
    assert created.status_code == 403
    assert await endpoints(world) == []
    assert BASE not in (await console.get("/console/inbox")).text


async def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(
    console: httpx.AsyncClient, world: World
) -> None:
    csrf = await as_admin(console, world)

    created = await post_form(
        console,
        BASE,
        csrf,
        url=PUBLIC_URL,
        description="Moka",
        event_types=["candidate.withdrew", "handoff.opened"],
        enabled="on",
    )

    assert created.status_code == 201, created.text
    [endpoint] = await endpoints(world)
    match = _SECRET.search(created.text)
    assert match is not None
    assert match.group(1) == endpoint.secret
    assert endpoint.event_types == ["candidate.withdrew", "handoff.opened"]
    listed = await console.get(BASE)
    assert PUBLIC_URL in listed.text
    assert endpoint.secret not in listed.text
    assert endpoint.secret not in (await console.get(f"{BASE}/{endpoint.id}")).text


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"url": "http://127.0.0.1/h", "event_types": ["csat.recorded"]}, "loopback"),
        ({"url": "http://10.0.0.7/h", "event_types": ["csat.recorded"]}, "private"),
        ({"url": "gopher://x/h", "event_types": ["csat.recorded"]}, "only http and https"),
        ({"url": PUBLIC_URL, "event_types": ["candidate.hired"]}, "Input should be"),
        ({"url": PUBLIC_URL}, "at least 1 item"),
    ],
)
async def test_bad_input_is_shown_by_its_field_and_saves_nothing(
    console: httpx.AsyncClient, world: World, fields: dict[str, str | list[str]], problem: str
) -> None:
    csrf = await as_admin(console, world)

    answer = await console.post(BASE, data={"csrf_token": csrf, **fields})

    assert answer.status_code == 422
    assert problem in answer.text
    assert await endpoints(world) == []


async def test_the_admin_sees_attempts_replays_rotates_disables_and_deletes(
    console: httpx.AsyncClient, world: World
) -> None:
    csrf = await as_admin(console, world)
    await post_form(
        console, BASE, csrf, url=PUBLIC_URL, event_types=["csat.recorded"], enabled="on"
    )
    [endpoint] = await endpoints(world)
    async with world.runtime.transaction() as session:
        event = events.record_event(
            session,
            WebhookEventType.CSAT_RECORDED,
            ordering_key="application:1",
            data={"rating": 5},
            now=utcnow(),
        )
    worker = WebhookQueue(world.runtime, client=WebhookClient(timeout=0.2, allow_private=False))
    await worker.drain()
    await worker.aclose()
    one = f"{BASE}/{endpoint.id}"

    detail = await console.get(one)
    assert detail.status_code == 200
    assert event.public_id in detail.text
    assert "✗" in detail.text  # the failed attempt, with its error

    async with world.runtime.sessionmaker() as session:
        delivery_id = (await session.scalars(select(WebhookDelivery.id))).one()
    replayed = await post_form(console, f"{one}/deliveries/{delivery_id}/replay", csrf)
    assert replayed.status_code == 303
    # While a worker sends it, a replay is refused rather than racing the worker.
    claiming = WebhookQueue(world.runtime, client=WebhookClient(timeout=0.2, allow_private=False))
    assert len(await claiming.claim_due()) == 1
    await claiming.aclose()
    busy = await post_form(console, f"{one}/deliveries/{delivery_id}/replay", csrf)
    assert busy.headers["location"].endswith("done=in_flight")
    assert "being sent right now" in (await console.get(busy.headers["location"])).text
    rotated = await post_form(console, f"{one}/rotate", csrf)
    match = _SECRET.search(rotated.text)
    assert match is not None
    assert match.group(1) != endpoint.secret
    switched_off = await post_form(
        console, one, csrf, url=PUBLIC_URL, event_types=["csat.recorded", "handoff.opened"]
    )
    assert switched_off.status_code == 303
    [changed] = await endpoints(world)
    assert changed.enabled is False
    assert changed.event_types == ["csat.recorded", "handoff.opened"]
    refused = await post_form(
        console, one, csrf, url="http://[::1]/h", event_types=["csat.recorded"]
    )
    assert refused.status_code == 422
    assert "loopback" in refused.text

    deleted = await post_form(console, f"{one}/delete", csrf)
    assert deleted.status_code == 303
    assert await endpoints(world) == []
    assert (await console.get(one)).status_code == 404
    async with world.runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("webhook_%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "webhook_endpoint.created",
        "webhook_delivery.replayed",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]


async def test_an_endpoint_disabled_after_failing_shows_why(
    console: httpx.AsyncClient, world: World
) -> None:
    csrf = await as_admin(console, world)
    await post_form(
        console, BASE, csrf, url=PUBLIC_URL, event_types=["csat.recorded"], enabled="on"
    )
    async with world.runtime.transaction() as session:
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = "every attempt failed since 2026-12-01 09:00; HTTP 503"

    listed = await console.get(BASE)
    detail = await console.get(f"{BASE}/{endpoint.id}")

    assert "disabled" in listed.text
    assert 'id="disabled"' in detail.text
    assert "HTTP 503" in detail.text


async def test_saving_a_disabled_endpoint_keeps_it_disabled_until_the_box_is_ticked(
    console: httpx.AsyncClient, world: World
) -> None:
    csrf = await as_admin(console, world)
    await post_form(
        console, BASE, csrf, url=PUBLIC_URL, event_types=["csat.recorded"], enabled="on"
    )
    async with world.runtime.transaction() as session:
        endpoint = (await session.scalars(select(WebhookEndpoint))).one()
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = "every attempt failed; HTTP 503"
    one = f"{BASE}/{endpoint.id}"

    # The form shows the endpoint as not sending; saving it as shown changes only the text.
    shown = (await console.get(one)).text
    assert re.search(r'name="enabled"\s*>', shown)
    saved = await post_form(
        console, one, csrf, url=PUBLIC_URL, description="Moka", event_types=["csat.recorded"]
    )
    assert saved.status_code == 303
    [endpoint] = await endpoints(world)
    assert endpoint.description == "Moka"
    assert endpoint.enabled
    assert endpoint.disabled_at is not None

    # Ticking the box lifts the disabling, and the audit row shows it.
    await post_form(console, one, csrf, url=PUBLIC_URL, event_types=["csat.recorded"], enabled="on")
    [endpoint] = await endpoints(world)
    assert endpoint.disabled_at is None
    async with world.runtime.sessionmaker() as session:
        lifted = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "webhook_endpoint.updated")
                .order_by(AuditEntry.id.desc())
            )
        ).first()
    assert lifted is not None
    assert lifted.before is not None
    assert lifted.before["disabled_at"] is not None
    assert lifted.before["disabled_reason"] == "every attempt failed; HTTP 503"
    assert lifted.after is not None
    assert lifted.after["disabled_at"] is None
