from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from candor.clock import utcnow
from candor.idempotency import request_fingerprint
from candor.models import IdempotencyKey
from candor.models.enums import Role
from candor.models.outreach import MessageState, OutboxItem, OutreachMessage
from candor.outreach.sla_watch import check_deadlines
from tests.outreach_world import World, hr, install_unchecked_template

URL = "/api/v1/outreach/messages"


async def pending_rejection(world: World, n: int = 1, team: str = "team-a") -> int:
    await world.applicant(n, team=team)
    await world.decide(n, "reject")
    async with world.runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                select(OutreachMessage.id).order_by(OutreachMessage.id.desc()).limit(1)
            )
            or 0
        )


async def count_outbox(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


async def test_the_queue_lists_my_teams_drafts_most_urgent_first(
    api: httpx.AsyncClient, world: World
) -> None:
    mine = await pending_rejection(world, 1)
    await pending_rejection(world, 2, team="team-b")

    response = await api.get(URL, headers=hr(world.recruiter_token))
    filtered = await api.get(URL, params={"state": "queued"}, headers=hr(world.recruiter_token))
    urgent = await api.get(
        URL, params={"due_within_working_days": 0}, headers=hr(world.recruiter_token)
    )

    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [mine]
    assert response.json()[0]["state"] == "pending_approval"
    assert response.json()[0]["application_code"].startswith("AP-2026-")
    assert filtered.json() == []
    # Due 2026-03-10, long past: the most urgent there is.
    assert [m["id"] for m in urgent.json()] == [mine]


async def test_approve_queues_and_a_replay_returns_the_same_answer(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)
    headers = hr(world.recruiter_token, key="approve-1")

    first = await api.post(f"{URL}/{message_id}/approve", headers=headers)
    replay = await api.post(f"{URL}/{message_id}/approve", headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["state"] == "queued"
    assert first.json()["decided_by"] == f"user:{world.recruiter.id}"
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await count_outbox(world) == 1


async def test_the_same_key_with_another_body_is_a_conflict(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)
    headers = hr(world.recruiter_token, key="k1")

    await api.post(f"{URL}/{message_id}/reject", json={"reason": "语气"}, headers=headers)
    reused = await api.post(f"{URL}/{message_id}/reject", json={"reason": "别的"}, headers=headers)

    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_conflict"


async def test_a_request_still_in_flight_gets_409(api: httpx.AsyncClient, world: World) -> None:
    message_id = await pending_rejection(world)
    async with world.runtime.transaction() as session:
        session.add(
            IdempotencyKey(
                principal=f"user:{world.recruiter.id}",
                key="busy",
                request_sha256=request_fingerprint("POST", f"{URL}/{message_id}/approve", {}),
                in_flight=True,
            )
        )

    response = await api.post(
        f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token, key="busy")
    )

    assert response.status_code == 409
    assert "in flight" in response.json()["error"]["message"]
    assert await count_outbox(world) == 0


async def test_posts_without_an_idempotency_key_are_400(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)

    response = await api.post(f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"


async def test_another_teams_message_is_404_everywhere(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)
    outsider = world.outsider_token

    responses = [
        await api.get(f"{URL}/{message_id}", headers=hr(outsider)),
        await api.post(f"{URL}/{message_id}/approve", headers=hr(outsider, "a")),
        await api.post(
            f"{URL}/{message_id}/edit-and-approve", json={"body": "x"}, headers=hr(outsider, "b")
        ),
        await api.post(
            f"{URL}/{message_id}/reject", json={"reason": "x"}, headers=hr(outsider, "c")
        ),
    ]
    bulk = await api.post(
        f"{URL}/bulk-approve", json={"message_ids": [message_id]}, headers=hr(outsider, "d")
    )

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert bulk.json() == {"approved": [], "not_found": [message_id], "conflicts": {}}
    assert await count_outbox(world) == 0


async def test_filtering_by_another_teams_id_shows_nothing(
    api: httpx.AsyncClient, world: World
) -> None:
    await pending_rejection(world)

    response = await api.get(
        URL, params={"team_id": world.team.id}, headers=hr(world.outsider_token)
    )

    assert response.status_code == 200
    assert response.json() == []


async def test_edited_text_with_template_markup_is_422(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)

    response = await api.post(
        f"{URL}/{message_id}/edit-and-approve",
        json={"body": "{{ candidate_name }} 您好"},
        headers=hr(world.recruiter_token, "markup"),
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_template"
    assert await count_outbox(world) == 0


async def test_the_sla_overview_counts_my_teams_and_lists_my_notifications(
    api: httpx.AsyncClient, world: World
) -> None:
    overdue = await pending_rejection(world, 1)  # due 2026-03-10, long past
    soon = await pending_rejection(world, 2)
    theirs = await pending_rejection(world, 3, team="team-b")
    async with world.runtime.transaction() as session:
        await session.execute(
            update(OutreachMessage)
            .where(OutreachMessage.id == soon)
            .values(due_at=utcnow() + timedelta(hours=1))
        )
        await check_deadlines(session, now=utcnow())

    mine = await api.get("/api/v1/outreach/sla", headers=hr(world.recruiter_token))
    outsider = await api.get("/api/v1/outreach/sla", headers=hr(world.outsider_token))

    assert mine.status_code == 200, mine.text
    assert mine.json()["teams"] == [
        {"team_id": world.team.id, "team_name": world.team.name, "due_soon": 1, "breached_open": 1}
    ]
    assert (mine.json()["due_soon"], mine.json()["breached_open"]) == (1, 1)
    assert sorted((n["message_id"], n["kind"]) for n in mine.json()["notifications"]) == [
        (overdue, "breach"),
        (soon, "warn"),
    ]
    assert mine.json()["notifications"][0]["application_code"].startswith("AP-2026-")
    assert [t["team_id"] for t in outsider.json()["teams"]] == [world.other_team.id]
    assert (outsider.json()["due_soon"], outsider.json()["breached_open"]) == (0, 1)
    assert [(n["message_id"], n["kind"]) for n in outsider.json()["notifications"]] == [
        (theirs, "breach")
    ]


async def test_edit_and_approve_then_the_detail_shows_the_diff(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)

    edited = await api.post(
        f"{URL}/{message_id}/edit-and-approve",
        json={"body": "李雷您好,感谢参加面试……"},
        headers=hr(world.recruiter_token, "e1"),
    )
    detail = await api.get(f"{URL}/{message_id}", headers=hr(world.recruiter_token))

    assert edited.status_code == 200
    steps = [(t["from_state"], t["to_state"]) for t in detail.json()["transitions"]]
    assert steps == [
        (None, "pending_approval"),
        ("pending_approval", "edited_and_approved"),
        ("edited_and_approved", "queued"),
    ]
    edit = detail.json()["transitions"][1]
    assert edit["after_text"] == "李雷您好,感谢参加面试……"
    assert "人才库" in edit["before_text"]


async def test_reject_needs_a_reason_and_then_nothing_is_sent(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)

    no_reason = await api.post(
        f"{URL}/{message_id}/reject", json={}, headers=hr(world.recruiter_token, "r0")
    )
    rejected = await api.post(
        f"{URL}/{message_id}/reject",
        json={"reason": "反馈过于笼统"},
        headers=hr(world.recruiter_token, "r1"),
    )
    approve_after = await api.post(
        f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token, "r2")
    )

    assert no_reason.status_code == 422
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["rejection_reason"] == "反馈过于笼统"
    assert approve_after.status_code == 409
    assert await count_outbox(world) == 0


async def test_bulk_approve_reports_each_message(api: httpx.AsyncClient, world: World) -> None:
    first = await pending_rejection(world, 1)
    second = await pending_rejection(world, 2)
    foreign = await pending_rejection(world, 3, team="team-b")
    await api.post(
        f"{URL}/{second}/reject", json={"reason": "x"}, headers=hr(world.recruiter_token, "x")
    )

    response = await api.post(
        f"{URL}/bulk-approve",
        json={"message_ids": [first, second, foreign, 999999]},
        headers=hr(world.recruiter_token, "bulk-1"),
    )

    assert response.json() == {
        "approved": [first],
        "not_found": [foreign, 999999],
        "conflicts": {str(second): "message is rejected"},
    }
    assert await count_outbox(world) == 1


async def test_concurrent_approvals_of_one_message_queue_it_once(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await pending_rejection(world)

    responses = await asyncio.gather(
        *(
            api.post(f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token, f"c{i}"))
            for i in range(4)
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert await count_outbox(world) == 1
    async with world.runtime.sessionmaker() as session:
        message = await session.get_one(OutreachMessage, message_id)
    assert message.state is MessageState.QUEUED


async def test_an_integration_token_is_not_an_hr_login(
    api: httpx.AsyncClient, world: World
) -> None:
    from tests.factories import make_ats_token

    async with world.runtime.transaction() as session:
        ats_token = await make_ats_token(session)

    response = await api.get(URL, headers=hr(ats_token))

    assert response.status_code == 403


async def needing_attention(world: World, n: int = 1) -> int:
    """A rejection drafted with a template that fails for it: the applicant has three
    strengths, the template reads a fourth."""
    await install_unchecked_template(world.runtime, "reject.zh-CN", body="{{ strengths[3] }}")
    return await pending_rejection(world, n)


async def test_a_draft_needing_attention_is_drafted_again_once_the_template_is_fixed(
    api: httpx.AsyncClient, world: World
) -> None:
    message_id = await needing_attention(world)
    _, admin = await world.member(Role.ADMIN)

    as_drafted = await api.post(
        f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token, "approve")
    )
    still_failing = await api.post(
        f"{URL}/{message_id}/redraft", headers=hr(world.recruiter_token, "redraft-1")
    )
    unchanged = await api.get(f"{URL}/{message_id}", headers=hr(world.recruiter_token))
    fixed = await api.post(
        "/api/v1/templates",
        json={
            "key": "reject.zh-CN",
            "outcome": "reject",
            "locale": "zh-CN",
            "subject": "{{ company_name }} 面试结果",
            "body": "{{ candidate_name }} 您好。{% if strengths %}{{ strengths[-1] }}{% endif %}",
        },
        headers=hr(admin, "fix"),
    )
    redrafted = await api.post(
        f"{URL}/{message_id}/redraft", headers=hr(world.recruiter_token, "redraft-2")
    )
    approved = await api.post(
        f"{URL}/{message_id}/approve", headers=hr(world.recruiter_token, "approve-2")
    )
    history = await api.get(f"{URL}/{message_id}", headers=hr(world.recruiter_token))

    assert as_drafted.status_code == 409  # nothing was drafted to approve
    assert still_failing.status_code == 422
    assert still_failing.json()["error"]["code"] == "template_render_failed"
    assert unchanged.json()["state"] == "needs_attention"
    assert "no element 3" in unchanged.json()["render_error"]["error"]
    assert fixed.status_code == 200, fixed.text
    assert redrafted.status_code == 200, redrafted.text
    assert redrafted.json()["state"] == "pending_approval"
    assert redrafted.json()["render_error"] is None
    assert redrafted.json()["body"].startswith(redrafted.json()["candidate_name"])
    assert redrafted.json()["subject"].endswith("面试结果")
    assert approved.json()["state"] == "queued"
    assert await count_outbox(world) == 1
    assert [(t["from_state"], t["to_state"]) for t in history.json()["transitions"]] == [
        (None, "needs_attention"),
        ("needs_attention", "pending_approval"),
        ("pending_approval", "approved"),
        ("approved", "queued"),
    ]


async def test_a_draft_needing_attention_is_written_by_hand_or_rejected(
    api: httpx.AsyncClient, world: World
) -> None:
    written = await needing_attention(world, 1)
    rejected = await pending_rejection(world, 2)

    body_only = await api.post(
        f"{URL}/{written}/edit-and-approve",
        json={"body": "李雷您好,感谢您的时间。"},
        headers=hr(world.recruiter_token, "body-only"),
    )
    bulk = await api.post(
        f"{URL}/bulk-approve",
        json={"message_ids": [written, rejected]},
        headers=hr(world.recruiter_token, "bulk"),
    )
    by_hand = await api.post(
        f"{URL}/{written}/edit-and-approve",
        json={"subject": "面试结果", "body": "李雷您好,感谢您的时间。"},
        headers=hr(world.recruiter_token, "by-hand"),
    )
    rejection = await api.post(
        f"{URL}/{rejected}/reject",
        json={"reason": "will call the candidate"},
        headers=hr(world.recruiter_token, "reject"),
    )

    assert body_only.status_code == 422  # the draft has no subject to keep
    assert bulk.json()["conflicts"] == {
        str(written): "message is needs_attention",
        str(rejected): "message is needs_attention",
    }
    assert by_hand.status_code == 200, by_hand.text
    assert by_hand.json()["state"] == "queued"
    assert by_hand.json()["body"] == "李雷您好,感谢您的时间。"
    assert rejection.json()["state"] == "rejected"
    assert await count_outbox(world) == 1


async def test_a_newer_result_replaces_a_draft_needing_attention(
    api: httpx.AsyncClient, world: World
) -> None:
    first = await needing_attention(world)

    await world.decide(1, "hold", version=2)
    old = await api.get(f"{URL}/{first}", headers=hr(world.recruiter_token))

    assert old.json()["state"] == "rejected"
    assert old.json()["rejection_reason"] == "superseded by a newer result"


async def test_the_queue_pages_in_its_urgency_order_without_losing_a_message(
    api: httpx.AsyncClient, world: World
) -> None:
    ids = [await pending_rejection(world, n) for n in (1, 2, 3, 4)]
    # Urgency is not id order: the newest draft is the most urgent, one has no deadline.
    due = dict(zip(ids, [5, 1, None, 1], strict=True))
    start = utcnow()
    async with world.runtime.transaction() as session:
        for message_id, days in due.items():
            await session.execute(
                update(OutreachMessage)
                .where(OutreachMessage.id == message_id)
                .values(due_at=None if days is None else start + timedelta(days=days))
            )
    queue_order = [ids[1], ids[3], ids[0], ids[2]]

    async def page(**params: int) -> list[int]:
        answer = await api.get(URL, params=params, headers=hr(world.recruiter_token))
        assert answer.status_code == 200, answer.text
        return [m["id"] for m in answer.json()]

    assert await page() == queue_order
    first = await page(limit=2)
    second = await page(limit=2, after_id=first[-1])
    third = await page(limit=2, after_id=second[-1])
    assert first + second == queue_order
    assert third == []
    assert await page(limit=1, after_id=queue_order[2]) == [queue_order[3]]  # past a null due
