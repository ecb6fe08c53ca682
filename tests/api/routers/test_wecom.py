"""HR approvals in WeCom, end to end: binding by code, a draft's card sent after commit through
the fake WeCom API, clicks posted as real WeChatCrypto-encrypted callbacks, and every way a
click or a callback is refused without changing anything."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update

from candor.ats.intake import accept_event
from candor.ats.schemas import ATS_EVENT
from candor.clock import utcnow
from candor.devtools.fake_wecom import AGENT_ID, CORP_ID, click_xml, seal
from candor.hr_chat.binding import looks_like_code, new_code
from candor.models import AuditEntry, HrCard, HrChatAccount, OutreachMessage, TeamMembership
from candor.models.enums import HrCardState, HrChatPlatform, Role
from candor.models.outreach import MessageState
from candor.outreach.context import ResultDrafter
from candor.runtime import Runtime
from candor.settings import Settings
from tests.app_client import app_client
from tests.outreach_world import World
from tests.wecom_world import (
    RunningFakeWeCom,
    WeComMember,
    bind_wecom,
    cards_of,
    drain_cards,
    speaks,
    wecom_settings,
)


@pytest.fixture
def settings(settings: Settings, fake_wecom: RunningFakeWeCom) -> Settings:
    return wecom_settings(settings, fake_wecom.base)


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime) as client:
        yield client


async def _audit_count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def _message(runtime: Runtime, message_id: int) -> OutreachMessage:
    async with runtime.sessionmaker() as session:
        return await session.get_one(OutreachMessage, message_id)


async def _pending_draft(world: World, n: int) -> int:
    await world.applicant(n)
    await world.decide(n, "reject")  # a rejection needs HR's approval by default
    async with world.runtime.sessionmaker() as session:
        message_id = await session.scalar(
            select(OutreachMessage.id)
            .where(OutreachMessage.state == MessageState.PENDING_APPROVAL)
            .order_by(OutreachMessage.id.desc())
        )
    assert message_id is not None
    return message_id


async def test_bind_then_approve_from_a_card(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    await speaks(runtime, None, world.recruiter)  # Chinese, the default
    li = WeComMember(http, fake, "li.na")
    assert "Candor" in await li.say("hello")  # not bound yet: told how
    assert "绑定成功" in await bind_wecom(runtime, li, world.recruiter)
    async with runtime.sessionmaker() as session:
        account = await session.scalar(select(HrChatAccount))
        bound_audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "hr_chat.bound")
        )
    assert account is not None
    assert account.user_id == world.recruiter.id
    assert account.external_id == "li.na"
    assert bound_audit is not None
    assert bound_audit.actor == f"user:{world.recruiter.id}"

    message_id = await _pending_draft(world, 1)
    [card] = await cards_of(runtime)
    assert (card.recipient_id, card.message_id, card.sent_at) == (
        world.recruiter.id,
        message_id,
        None,
    )
    assert fake.cards() == []  # committed, but only the worker sends
    assert await drain_cards(runtime) == 1
    [sent] = fake.cards("li.na")
    body = sent["template_card"]
    assert body["card_type"] == "button_interaction"
    assert body["task_id"] == card.token
    assert [b.get("key") for b in body["button_list"]] == ["approve", "reject", None]
    assert body["button_list"][2]["url"].endswith(f"/console/messages/{message_id}")
    [card] = await cards_of(runtime)
    assert card.sent_at is not None
    assert card.platform_ref
    assert card.platform_ref.startswith("rc-")

    before = await _audit_count(runtime)
    assert "已批准" in await li.click(card.token, "approve")
    message = await _message(runtime, message_id)
    assert message.state in (MessageState.QUEUED, MessageState.UNDELIVERABLE)
    assert message.decided_by == f"user:{world.recruiter.id}"
    async with runtime.sessionmaker() as session:
        approved = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "message.approved")
        )
    assert approved is not None
    assert approved.details == {"via": "wecom"}
    assert await _audit_count(runtime) == before + 1

    # The card shows the decision: updated with the response_code its send returned.
    assert await drain_cards(runtime) == 1
    [update_call] = fake.updates()
    assert update_call["response_code"] == card.platform_ref
    assert "王招聘" in update_call["button"]["replace_name"]

    # A double click answers and changes nothing.
    assert "此项已处理" in await li.click(card.token, "approve")
    assert await _audit_count(runtime) == before + 1
    assert await drain_cards(runtime) == 0


async def test_refusals_change_nothing(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    await speaks(runtime, None, world.recruiter, world.outsider)  # Chinese, the default
    li, zhang = WeComMember(http, fake, "li.na"), WeComMember(http, fake, "zhang.san")
    await bind_wecom(runtime, li, world.recruiter)
    code = "ABCD2345"
    assert "绑定码无效" in await zhang.say(code)  # never issued
    assert "绑定成功" in await bind_wecom(runtime, zhang, world.outsider)
    message_id = await _pending_draft(world, 2)
    [card] = await cards_of(runtime)  # the outsider is in the other team: no card
    await drain_cards(runtime)
    before = await _audit_count(runtime)

    # Another HR user's click on li.na's card; an unknown card; a bad action.
    assert "不属于您" in await zhang.click(card.token, "approve")
    assert "找不到" in await li.click("no-such-card", "approve")
    assert "无法处理" in await li.click(card.token, "delete")

    # Bad signature, malformed XML, a replayed callback: refused before anything is read.
    query, body = seal(fake.crypto, click_xml(CORP_ID, AGENT_ID, "li.na", card.token, "approve"))
    forged = await http.post(
        "/wecom/callback", params={**query, "msg_signature": "0" * 40}, content=body
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "wecom_bad_signature"
    broken = await http.post("/wecom/callback", params=query, content=b"<xml><Encrypt>")
    assert broken.status_code == 400
    assert (await http.post("/wecom/callback", content=body)).status_code == 403
    assert (await _message(runtime, message_id)).state is MessageState.PENDING_APPROVAL

    # Out of scope at click time: li.na left the team after the card was sent.
    async with runtime.transaction() as session:
        await session.execute(
            delete(TeamMembership).where(TeamMembership.user_id == world.recruiter.id)
        )
    assert "无权" in await li.click(card.token, "approve")
    async with runtime.transaction() as session:
        session.add(TeamMembership(team_id=world.team.id, user_id=world.recruiter.id))

    # Expired.
    async with runtime.transaction() as session:
        await session.execute(update(HrCard).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert "已过期" in await li.click(card.token, "approve")
    async with runtime.transaction() as session:
        await session.execute(update(HrCard).values(expires_at=utcnow() + timedelta(hours=1)))

    assert (await _message(runtime, message_id)).state is MessageState.PENDING_APPROVAL
    assert (await cards_of(runtime))[0].state is HrCardState.OPEN
    assert await _audit_count(runtime) == before

    # The replayed callback: the same query and body twice; the second is refused.
    first = await http.post("/wecom/callback", params=query, content=body)
    assert first.status_code == 200
    replayed = await http.post("/wecom/callback", params=query, content=body)
    assert replayed.status_code == 403
    assert replayed.json()["error"]["code"] == "wecom_replayed_nonce"


async def test_reject_with_the_reason_replied(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime = world.runtime
    await speaks(runtime, "en", world.recruiter)
    await speaks(runtime, None, world.outsider)  # Chinese, the default
    li = WeComMember(http, fake_wecom.state, "li.na")
    assert "Bound" in await bind_wecom(runtime, li, world.recruiter)
    message_id = await _pending_draft(world, 3)
    await drain_cards(runtime)
    [sent] = fake_wecom.state.cards("li.na")
    assert sent["template_card"]["main_title"]["title"].startswith("Awaiting approval")
    [card] = await cards_of(runtime)
    assert "reason" in await li.click(card.token, "reject")
    assert (await _message(runtime, message_id)).state is MessageState.PENDING_APPROVAL
    # Eight letters: it looks like a binding code, but a bound account awaiting a reason
    # means it as the reason.
    assert looks_like_code("Next week")
    assert "Rejected" in await li.say("Next week")
    message = await _message(runtime, message_id)
    assert message.state is MessageState.REJECTED
    assert message.rejection_reason == "Next week"
    async with runtime.sessionmaker() as session:
        rejected = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "message.rejected")
        )
    assert rejected is not None
    assert rejected.details == {"reason": "Next week", "via": "wecom"}
    # A used binding code binds nothing, and an unbound account stays unbound.
    code = await new_code(runtime.redis, world.outsider.id, HrChatPlatform.WECOM)
    zhang = WeComMember(http, fake_wecom.state, "zhang.san")
    assert "绑定成功" in await zhang.say(code.lower())
    assert "绑定码无效" in await WeComMember(http, fake_wecom.state, "wang.wu").say(code)
    async with runtime.sessionmaker() as session:
        holders = (await session.scalars(select(HrChatAccount.external_id))).all()
    assert sorted(holders) == ["li.na", "zhang.san"]


async def test_a_rolled_back_draft_leaves_no_card(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime = world.runtime
    await bind_wecom(runtime, WeComMember(http, fake_wecom.state, "li.na"), world.recruiter)
    await world.applicant(4)
    event = ATS_EVENT.validate_python(
        {
            "event_id": "decide-4",
            "type": "result_decided",
            "data": {
                "application_external_id": "app-4",
                "interview_external_id": "iv-4",
                "decision": "reject",
                "decided_at": "2026-03-05T18:00:00+08:00",
            },
        }
    )

    async def draft_then_fail() -> None:
        async with runtime.transaction() as session:
            await accept_event(session, event, on_result_decided=ResultDrafter(runtime.settings))
            assert len((await session.scalars(select(HrCard))).all()) == 1
            raise RuntimeError("the event's transaction fails after drafting")

    with pytest.raises(RuntimeError, match="fails after drafting"):
        await draft_then_fail()
    assert await cards_of(runtime) == []
    assert await drain_cards(runtime) == 0
    assert fake_wecom.state.cards() == []


async def test_url_verification_echoes_the_decrypted_echostr(
    http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    """What WeCom's admin console does when the callback URL is saved."""
    query, body = seal(fake_wecom.state.crypto, "echo-4711")
    echostr = (
        body.decode().removeprefix("<xml><Encrypt><![CDATA[").removesuffix("]]></Encrypt></xml>")
    )
    answer = await http.get("/wecom/callback", params={**query, "echostr": echostr})
    assert (answer.status_code, answer.text) == (200, "echo-4711")
    forged = await http.get(
        "/wecom/callback", params={**query, "msg_signature": "f" * 40, "echostr": echostr}
    )
    assert forged.status_code == 403
    assert (await http.get("/wecom/callback", params={"echostr": echostr})).status_code == 403


async def test_a_colleagues_click_after_the_decision_is_told_who_decided(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    colleague, _ = await world.member(Role.RECRUITER, world.team)
    await speaks(runtime, None, world.recruiter, colleague)  # Chinese, the default
    li, wang = WeComMember(http, fake, "li.na"), WeComMember(http, fake, "wang.wu")
    await bind_wecom(runtime, li, world.recruiter)
    await bind_wecom(runtime, wang, colleague)
    message_id = await _pending_draft(world, 5)
    assert await drain_cards(runtime) == 2  # the team's recruiters, each on their own card
    mine, theirs = await cards_of(runtime)
    assert "已批准" in await li.click(mine.token, "approve")
    before = await _audit_count(runtime)
    answer = await wang.click(theirs.token, "approve")
    assert "此项已处理" in answer
    assert "王招聘" in answer
    assert not re.search(r"[A-Za-z]", answer)  # the state in Chinese too, not "queued"
    assert await _audit_count(runtime) == before
    assert (await _message(runtime, message_id)).decided_by == f"user:{world.recruiter.id}"
    assert await drain_cards(runtime) == 2  # both cards now show the decision


_REFUSE_CARD_UPDATES = {
    "sqlite": [
        "CREATE TRIGGER refuse_card_updates BEFORE UPDATE ON hr_cards"
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_card_updates() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse_card_updates BEFORE UPDATE ON hr_cards"
        " FOR EACH ROW EXECUTE FUNCTION refuse_card_updates()",
    ],
}
_ALLOW_CARD_UPDATES = {
    "sqlite": ["DROP TRIGGER refuse_card_updates"],
    "postgresql": [
        "DROP TRIGGER refuse_card_updates ON hr_cards",
        "DROP FUNCTION refuse_card_updates()",
    ],
}


async def _execute(runtime: Runtime, statements: dict[str, list[str]]) -> None:
    async with runtime.transaction() as session:
        for statement in statements[session.get_bind().dialect.name]:
            await session.execute(text(statement))


async def test_a_click_whose_commit_fails_is_accepted_when_wecom_retries(
    world: World, http: httpx.AsyncClient, fake_wecom: RunningFakeWeCom
) -> None:
    runtime, fake = world.runtime, fake_wecom.state
    await bind_wecom(runtime, WeComMember(http, fake, "li.na"), world.recruiter)
    await _pending_draft(world, 6)
    await drain_cards(runtime)
    [card] = await cards_of(runtime)
    # Reject only marks the card (written at commit): the database refuses that write.
    query, body = seal(fake.crypto, click_xml(CORP_ID, AGENT_ID, "li.na", card.token, "reject"))
    await _execute(runtime, _REFUSE_CARD_UPDATES)
    try:
        with pytest.raises(Exception, match="refused by the test"):
            await http.post("/wecom/callback", params=query, content=body)
    finally:
        await _execute(runtime, _ALLOW_CARD_UPDATES)
    assert (await cards_of(runtime))[0].reason_wanted_until is None  # nothing was kept
    # WeCom retries the same callback: not a replay, since nothing was committed.
    retried = await http.post("/wecom/callback", params=query, content=body)
    assert retried.status_code == 200, retried.text
    assert (await cards_of(runtime))[0].reason_wanted_until is not None
