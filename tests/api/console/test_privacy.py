"""Deletion requests and legal holds in the console: admin only, audited, refused changes
are clear error pages, and the candidate disappears from the console once erased."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from candor.models import AuditEntry, Candidate, DeletionRequest
from candor.models.enums import Channel, Role
from candor.models.privacy import DeletionState
from candor.privacy import erasure
from candor.runtime import Runtime
from tests.console_world import logged_in, post_form
from tests.outreach_world import World


async def candidate_id(world: World, n: int) -> int:
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(Candidate.id).where(Candidate.external_id == f"cand-{n}")
        )
    assert found is not None
    return int(found)


async def the_request(runtime: Runtime) -> DeletionRequest:
    async with runtime.sessionmaker() as session:
        found = await session.scalar(select(DeletionRequest).order_by(DeletionRequest.id.desc()))
    assert found is not None
    return found


async def admin_in(console: httpx.AsyncClient, world: World) -> str:
    admin, _ = await world.member(Role.ADMIN)
    return await logged_in(console, world.runtime, admin.id)


async def test_an_admin_requests_a_deletion_and_holds_then_releases_it(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    csrf = await admin_in(console, world)
    page = await console.get(f"/console/candidates/{cid}")
    assert f'action="/console/candidates/{cid}/deletion"' in page.text

    answer = await post_form(console, f"/console/candidates/{cid}/deletion", csrf)

    assert answer.status_code == 303
    assert answer.headers["location"].endswith("?done=deletion_requested#privacy")
    assert (await the_request(world.runtime)).state is DeletionState.PENDING
    page = await console.get(f"/console/candidates/{cid}")
    assert 'data-deletion-state="pending"' in page.text
    # A second request while one is open is refused with its code's status.
    again = await post_form(console, f"/console/candidates/{cid}/deletion", csrf)
    assert again.status_code == 409
    assert "already open" in again.text

    held = await post_form(console, f"/console/candidates/{cid}/legal-hold", csrf, reason="诉讼中")
    assert held.status_code == 303
    assert (await the_request(world.runtime)).legal_hold_since is not None
    assert 'data-legal-hold="on"' in (await console.get(f"/console/candidates/{cid}")).text
    # Held: the worker does not erase it, however due.
    assert await erasure.erase(world.runtime, (await the_request(world.runtime)).id) is False

    released = await post_form(console, f"/console/candidates/{cid}/legal-hold/release", csrf)
    assert released.status_code == 303
    assert (await the_request(world.runtime)).legal_hold_since is None
    async with world.runtime.sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "deletion_request")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == [
        "privacy.deletion_requested",
        "privacy.legal_hold_set",
        "privacy.legal_hold_released",
    ]


async def test_a_recruiter_sees_no_form_and_may_not_post(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    page = await console.get(f"/console/candidates/{cid}")
    assert page.status_code == 200
    assert "/deletion" not in page.text
    answer = await post_form(console, f"/console/candidates/{cid}/deletion", csrf)
    assert answer.status_code == 403
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(DeletionRequest)) is None


async def test_bad_input_gets_clear_errors(console: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    csrf = await admin_in(console, world)

    unknown = await post_form(console, "/console/candidates/987654/deletion", csrf)
    assert unknown.status_code == 404
    no_request = await post_form(console, f"/console/candidates/{cid}/legal-hold", csrf, reason="x")
    assert no_request.status_code == 404
    await post_form(console, f"/console/candidates/{cid}/deletion", csrf)
    no_reason = await post_form(console, f"/console/candidates/{cid}/legal-hold", csrf, reason=" ")
    assert no_reason.status_code == 422


async def test_a_finished_erasure_hides_the_candidate_and_refuses_a_hold(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, bind=[Channel.WEB])
    cid = await candidate_id(world, 1)
    csrf = await admin_in(console, world)
    await post_form(console, f"/console/candidates/{cid}/deletion", csrf)
    request = await the_request(world.runtime)
    async with world.runtime.transaction() as session:
        row = await session.get_one(DeletionRequest, request.id)
        row.erase_after = row.requested_at  # the cooling-off period is over
    assert await erasure.erase(world.runtime, request.id) is True

    assert (await console.get(f"/console/candidates/{cid}")).status_code == 404
    refused = await post_form(console, f"/console/candidates/{cid}/legal-hold", csrf, reason="x")
    assert refused.status_code == 409
    assert "erased already" in refused.text
