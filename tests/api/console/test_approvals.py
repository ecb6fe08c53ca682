"""The approval inbox through the console's forms: the same service and audit as the API."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from candor.clock import utcnow
from candor.models import ApprovalRule, AuditEntry, Candidate
from candor.models.enums import Channel, Decision
from candor.models.outreach import (
    ApprovalMode,
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutreachMessage,
)
from tests.candor.scheduling.flow_world import enable_booking
from tests.console_world import logged_in, post_form
from tests.outreach_world import World, install_unchecked_template


async def pending(world: World, n: int, *, team: str = "team-a", decision: str = "reject") -> int:
    await world.applicant(n, team=team, bind=[Channel.WECHAT])
    await world.decide(n, decision)
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(OutreachMessage.id).order_by(OutreachMessage.id.desc()).limit(1)
        )
        assert found is not None
        return found


async def message(world: World, message_id: int) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(OutreachMessage, message_id)


async def audit_rows(world: World) -> list[AuditEntry]:
    """The audit trail of messages (the defaults' template saves at start-up are there too)."""
    async with world.runtime.sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.object_type == "message")
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def pending_and_logged_in(console: httpx.AsyncClient, world: World) -> tuple[int, str]:
    """One draft of the recruiter's team awaiting approval, and the recruiter's CSRF token."""
    message_id = await pending(world, 1)
    return message_id, await logged_in(console, world.runtime, world.recruiter.id)


async def test_the_inbox_shows_my_teams_drafts_with_their_context(
    console: httpx.AsyncClient, world: World
) -> None:
    mine = await pending(world, 1)
    theirs = await pending(world, 2, team="team-b")
    await logged_in(console, world.runtime, world.recruiter.id)

    inbox = await console.get("/console/inbox")

    assert f'id="draft-{mine}"' in inbox.text
    assert f'id="draft-{theirs}"' not in inbox.text
    assert "overdue by" in inbox.text  # due 2026-03-10, long past
    assert "Interview summary" in inbox.text
    assert "沟通" in inbox.text  # a strength from the interview report
    assert 'data-channel="wechat"' in inbox.text
    assert 'data-channel="email"' in inbox.text


async def test_approve_queues_the_message_and_audits_the_decision(
    console: httpx.AsyncClient, world: World
) -> None:
    message_id, csrf = await pending_and_logged_in(console, world)

    answer = await post_form(console, f"/console/messages/{message_id}/approve", csrf)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/inbox?done=approved:{message_id}"
    assert (await message(world, message_id)).state is MessageState.QUEUED
    [entry] = await audit_rows(world)
    assert entry.action == "message.approved"
    assert entry.actor == f"user:{world.recruiter.id}"
    assert entry.object_id == str(message_id)
    assert entry.team_id == world.team.id
    assert entry.before is not None
    assert entry.before["state"] == "pending_approval"
    assert entry.after is not None
    assert entry.after["state"] == "approved"


async def test_edit_shows_a_diff_first_and_approves_only_when_confirmed(
    console: httpx.AsyncClient, world: World
) -> None:
    message_id, csrf = await pending_and_logged_in(console, world)
    original = (await message(world, message_id)).body
    edited = original.splitlines()[0] + "\n感谢您的耐心等待。"
    path = f"/console/messages/{message_id}/edit-and-approve"

    review = await post_form(console, path, csrf, subject="面试结果", body=edited, confirm="0")
    assert review.status_code == 200
    assert '<div class="added">+ 感谢您的耐心等待。</div>' in review.text
    assert 'class="removed"' in review.text
    assert (await message(world, message_id)).state is MessageState.PENDING_APPROVAL
    # A page a POST rendered cannot be fetched again: the language switch does not return to it.
    assert 'name="next"' not in review.text
    assert 'name="next"' in (await console.get(f"/console/messages/{message_id}")).text

    done = await post_form(console, path, csrf, subject="面试结果", body=edited, confirm="1")
    assert done.status_code == 303
    sent = await message(world, message_id)
    assert sent.state is MessageState.QUEUED
    assert sent.body == edited
    assert sent.subject == "面试结果"
    [entry] = await audit_rows(world)
    assert entry.action == "message.edited_and_approved"
    assert entry.before is not None
    assert entry.before["body"] == original
    assert entry.after is not None
    assert entry.after["body"] == edited


async def test_an_edit_with_template_markup_is_refused_inline_and_nothing_changes(
    console: httpx.AsyncClient, world: World
) -> None:
    message_id, csrf = await pending_and_logged_in(console, world)

    answer = await post_form(
        console,
        f"/console/messages/{message_id}/edit-and-approve",
        csrf,
        subject="x",
        body="您好 {{ candidate_name }}",
        confirm="1",
    )

    assert answer.status_code == 422
    assert "template markup" in answer.text
    assert (await message(world, message_id)).state is MessageState.PENDING_APPROVAL
    assert await audit_rows(world) == []


async def test_reject_needs_a_reason_and_is_audited_with_it(
    console: httpx.AsyncClient, world: World
) -> None:
    message_id, csrf = await pending_and_logged_in(console, world)
    path = f"/console/messages/{message_id}/reject"

    empty = await post_form(console, path, csrf, reason=" ")
    assert empty.status_code == 422
    assert (await message(world, message_id)).state is MessageState.PENDING_APPROVAL

    answer = await post_form(console, path, csrf, reason="候选人已电话沟通")
    assert answer.status_code == 303
    rejected = await message(world, message_id)
    assert rejected.state is MessageState.REJECTED
    assert rejected.rejection_reason == "候选人已电话沟通"
    [entry] = await audit_rows(world)
    assert entry.action == "message.rejected"
    assert entry.details == {"reason": "候选人已电话沟通"}


async def test_deciding_twice_is_a_conflict_not_a_second_delivery(
    console: httpx.AsyncClient, world: World
) -> None:
    message_id, csrf = await pending_and_logged_in(console, world)
    await post_form(console, f"/console/messages/{message_id}/approve", csrf)

    again = await post_form(console, f"/console/messages/{message_id}/approve", csrf)

    assert again.status_code == 409
    async with world.runtime.sessionmaker() as session:
        items = (await session.scalars(select(OutboxItem))).all()
    assert len(items) == 1


async def test_bulk_approve_skips_other_teams_and_decided_messages(
    console: httpx.AsyncClient, world: World
) -> None:
    first = await pending(world, 1)
    second = await pending(world, 2)
    theirs = await pending(world, 3, team="team-b")
    csrf = await logged_in(console, world.runtime, world.recruiter.id)
    await post_form(console, f"/console/messages/{second}/approve", csrf)

    answer = await post_form(
        console,
        "/console/messages/bulk-approve",
        csrf,
        message_id=[str(first), str(second), str(theirs), "x"],
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/inbox?done=bulk:1:2"
    assert (await message(world, first)).state is MessageState.QUEUED
    assert (await message(world, theirs)).state is MessageState.PENDING_APPROVAL


async def test_bulk_approve_takes_at_most_200(console: httpx.AsyncClient, world: World) -> None:
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    answer = await post_form(
        console,
        "/console/messages/bulk-approve",
        csrf,
        message_id=[str(i) for i in range(1, 202)],
    )

    assert answer.status_code == 422
    assert "at most 200" in answer.text


async def test_an_id_past_the_64_bit_range_is_invalid_input_not_a_server_error(
    console: httpx.AsyncClient, world: World
) -> None:
    mine, csrf = await pending_and_logged_in(console, world)

    page = await console.get(f"/console/messages/{2**63}")
    bulk = await post_form(
        console, "/console/messages/bulk-approve", csrf, message_id=[str(mine), str(2**63)]
    )

    assert page.status_code == 422
    assert bulk.status_code == 303
    assert (await message(world, mine)).state is MessageState.QUEUED


async def test_a_draft_needing_attention_shows_its_error_and_is_drafted_again_once_fixed(
    console: httpx.AsyncClient, world: World
) -> None:
    version = await install_unchecked_template(
        world.runtime, "reject.zh-CN", body="{{ 100 // (improvements | length - 1) }}"
    )
    message_id = await pending(world, 1)  # one improvement point: a division by zero
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    inbox = await console.get("/console/inbox")
    page = await console.get(f"/console/messages/{message_id}")
    still_failing = await post_form(console, f"/console/messages/{message_id}/redraft", csrf)
    await install_unchecked_template(world.runtime, "reject.zh-CN", body="{{ candidate_name }}")
    redrafted = await post_form(console, f"/console/messages/{message_id}/redraft", csrf)

    assert f'id="draft-{message_id}"' in inbox.text
    assert "Needs attention" in inbox.text
    assert f"/console/messages/{message_id}/redraft" in inbox.text
    assert page.status_code == 200
    assert f"<code>reject.zh-CN</code> v{version} (body)" in page.text
    assert "ZeroDivisionError" in page.text
    assert f"/console/messages/{message_id}/approve" not in page.text  # nothing to approve
    assert still_failing.status_code == 422
    assert "still cannot draft it" in still_failing.text
    assert redrafted.status_code == 303
    assert redrafted.headers["location"] == f"/console/inbox?done=redrafted:{message_id}"
    drafted = await message(world, message_id)
    assert drafted.state is MessageState.PENDING_APPROVAL
    assert drafted.body != ""
    assert drafted.render_error is None


async def test_a_draft_going_by_sms_shows_the_filled_text_and_its_segments(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "reject.zh-CN")
            .values(
                sms_template_code="SMS_480215301",
                sms_params={"name": "{{ candidate_name }}", "job": "{{ job_title }}"},
                sms_preview_text="${name}您好,您应聘的${job}岗位结果已出,请查收邮件。" + "谢" * 44,
            )
        )
    await world.applicant(1, preferred_channels=["sms", "email"])
    await world.decide(1, "reject")
    await world.applicant(2, preferred_channels=["sms", "email"])
    await world.decide(2, "reject")
    async with world.runtime.transaction() as session:
        await session.execute(
            update(Candidate)
            .where(Candidate.external_id == "cand-2")
            .values(sms_opted_out_at=utcnow())
        )
    await logged_in(console, world.runtime, world.recruiter.id)

    inbox = await console.get("/console/inbox")

    assert inbox.text.count('data-channel="sms"') == 1
    assert "李雷您好,您应聘的后端工程师岗位结果已出" in inbox.text
    # 27 + 44 = 71 characters: more than one UCS-2 segment's 70.
    assert '<span class="segments">2 SMS segments</span>' in inbox.text


async def test_an_advance_draft_says_the_invitation_to_book_will_be_added(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        session.add(ApprovalRule(outcome=Decision.ADVANCE, mode=ApprovalMode.REQUIRE_APPROVAL))
    reject = await pending(world, 2)  # the same job, another outcome
    await world.applicant(1, bind=[Channel.WECHAT])
    await enable_booking(world, 1)
    await world.decide(1, "advance")
    await logged_in(console, world.runtime, world.recruiter.id)

    inbox = (await console.get("/console/inbox")).text

    def card(message_id: int) -> str:
        start = inbox.index(f'id="draft-{message_id}"')
        end = inbox.find('id="draft-', start + 1)
        return inbox[start : end if end != -1 else len(inbox)]

    advance = reject + 1
    note = "an invitation to book the next interview is added below this text"
    assert inbox.count(note) == 1
    assert note in card(advance)
    assert note not in card(reject)
