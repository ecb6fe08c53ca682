from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.channels.email import EmailChannel
from bot.conversation import ConversationGateway
from bot.gateway import notify_recorded
from candor.chat import binding
from candor.chat.messages import InboundMessage, Reply
from candor.clock import utcnow
from candor.delivery.direct import deliver_due
from candor.mail import SmtpMailer
from candor.models import (
    Application,
    AuditEntry,
    BindingToken,
    Candidate,
    ChatIdentity,
    ChatMessage,
    IdentityEvent,
    ManualBinding,
)
from candor.models.chat import Direction, IdentityAction
from candor.models.enums import Channel
from candor.outreach.service import deliverable_channels
from tests.outreach_world import World
from tests.smtp_server import RunningSmtp, running_smtp


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def gateway(world: World) -> ConversationGateway:
    return ConversationGateway(world.runtime)


async def mail_queued_codes(world: World, smtp: RunningSmtp) -> int:
    """One round of the delivery loop's direct queue, e-mailing through the test server."""
    mailer = SmtpMailer(host=smtp.host, port=smtp.port, sender="hr@candor.test", starttls=False)
    return await deliver_due(world.runtime, {Channel.EMAIL: EmailChannel(mailer)})


def says(
    user: str,
    text: str | None = None,
    *,
    channel: Channel = Channel.TELEGRAM,
    event: str | None = None,
    event_key: str | None = None,
    provider_id: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_user_id=user,
        received_at=utcnow(),
        text=text,
        event=event,
        event_key=event_key,
        provider_message_id=provider_id,
    )


async def issue(world: World, n: int, channel: Channel = Channel.TELEGRAM) -> str:
    application = await world.application(n)
    async with world.runtime.transaction() as session:
        issued = await binding.issue_token(
            session,
            await session.get_one(Application, application.id),
            channel,
            actor="test",
            now=utcnow(),
            valid_for=timedelta(days=30),
        )
    return issued.plaintext


async def identity(world: World, channel: Channel, user: str) -> ChatIdentity:
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(
            select(ChatIdentity).where(
                ChatIdentity.channel == channel, ChatIdentity.external_user_id == user
            )
        )
        assert found is not None
        return found


async def events(world: World) -> list[IdentityEvent]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(IdentityEvent).order_by(IdentityEvent.id))).all())


CONTACT = "lilei@example.com"  # the factory candidate's e-mail


def joined(replies: list[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)


async def test_an_unbound_user_gets_instructions_and_no_personal_data(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1)
    app = await world.application(1)

    replies = await gateway.handle(says("tg-42", "我的面试结果出来了吗？"))

    assert "绑定" in joined(replies)
    assert "link your application" in joined(replies)
    assert app.code not in joined(replies)
    assert "后端工程师" not in joined(replies)
    async with world.runtime.sessionmaker() as session:
        rows = (await session.scalars(select(ChatMessage).order_by(ChatMessage.id))).all()
    assert [(r.direction, r.candidate_id) for r in rows] == [
        (Direction.INBOUND, None),
        (Direction.OUTBOUND, None),
    ]
    assert rows[0].text == "我的面试结果出来了吗？"


async def test_a_start_link_binds_once(world: World, gateway: ConversationGateway) -> None:
    await world.applicant(1)
    token = await issue(world, 1)
    assert len(token) <= 64
    assert token.replace("-", "").replace("_", "").isalnum()

    replies = await gateway.handle(says("tg-1", event="start", event_key=token))

    app = await world.application(1)
    assert app.code in joined(replies)
    bound = await identity(world, Channel.TELEGRAM, "tg-1")
    assert bound.candidate_id == app.candidate_id
    assert bound.bound_at is not None
    # Single use: someone else holding the same link gets nothing.
    again = await gateway.handle(says("tg-2", event="start", event_key=token))
    assert app.code not in joined(again)
    assert "invalid" in joined(again)
    assert (await identity(world, Channel.TELEGRAM, "tg-2")).bound_at is None
    [event] = await events(world)
    assert (event.action, event.via, event.application_id) == (
        IdentityAction.BOUND,
        "token",
        app.id,
    )
    # The transcript never keeps the token itself.
    async with world.runtime.sessionmaker() as session:
        payloads = (await session.scalars(select(ChatMessage.payload))).all()
    assert token not in repr(payloads)


async def test_an_expired_or_foreign_channel_token_is_refused(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1)
    web_token = await issue(world, 1, Channel.WEB)
    replies = await gateway.handle(says("tg-1", event="start", event_key=web_token))
    assert "invalid" in joined(replies)

    token = await issue(world, 1)
    async with world.runtime.transaction() as session:
        row = await session.scalar(
            select(BindingToken).where(BindingToken.token_hash == binding.hash_token(token))
        )
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    replies = await gateway.handle(says("tg-1", event="start", event_key=token))
    assert "invalid" in joined(replies)
    assert (await identity(world, Channel.TELEGRAM, "tg-1")).bound_at is None


async def test_a_new_link_revokes_the_previous_one(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1)
    first = await issue(world, 1)
    second = await issue(world, 1)

    assert "invalid" in joined(await gateway.handle(says("tg-1", event="start", event_key=first)))
    assert "invalid" not in joined(
        await gateway.handle(says("tg-1", event="start", event_key=second))
    )


async def test_wechat_subscribe_scene_binds(world: World, gateway: ConversationGateway) -> None:
    await world.applicant(1)
    token = await issue(world, 1, Channel.WECHAT)

    await gateway.handle(
        says("openid-1", channel=Channel.WECHAT, event="subscribe", event_key=f"qrscene_{token}")
    )

    assert (await identity(world, Channel.WECHAT, "openid-1")).bound_at is not None


async def test_rebinding_is_audited_and_replaces_the_old_account(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])  # telegram-user-1 bound to candidate 1
    await world.applicant(2)
    first, second = await world.application(1), await world.application(2)

    # telegram-user-1 now opens candidate 2's link: it moves to candidate 2.
    await gateway.handle(says("telegram-user-1", event="start", event_key=await issue(world, 2)))
    # candidate 1 binds a new Telegram account: it replaces nothing (theirs was taken over),
    # candidate 2 binds yet another account: telegram-user-1 is replaced.
    await gateway.handle(says("tg-new", event="start", event_key=await issue(world, 2)))

    moved = await identity(world, Channel.TELEGRAM, "telegram-user-1")
    assert moved.bound_at is None
    assert (await identity(world, Channel.TELEGRAM, "tg-new")).candidate_id == second.candidate_id
    audit = [(e.action, e.candidate_id, e.previous_candidate_id) for e in await events(world)]
    assert audit == [
        (IdentityAction.REBOUND, second.candidate_id, first.candidate_id),
        (IdentityAction.REPLACED, None, second.candidate_id),
        (IdentityAction.BOUND, second.candidate_id, None),
    ]


async def test_manual_binding_by_emailed_code(
    world: World, gateway: ConversationGateway, smtp: RunningSmtp
) -> None:
    await world.applicant(1, email="hanmeimei@example.com")
    app = await world.application(1)

    asked = await gateway.handle(says("tg-7", f"绑定 {app.code} HanMeimei@Example.com"))
    unknown = await gateway.handle(says("tg-8", "绑定 AP-2026-999999 hanmeimei@example.com"))

    assert joined(asked) == joined(unknown)  # existence is not disclosed
    assert smtp.handler.messages == []  # queued with the code's hash, sent by the loop
    assert await mail_queued_codes(world, smtp) == 1
    [body] = smtp.handler.bodies_to("hanmeimei@example.com")
    code = next(word for word in body.replace("：", " ").split() if word[:6].isdigit())[:6]
    assert len(smtp.handler.messages) == 1

    wrong = "000000" if code != "000000" else "111111"
    refused = await gateway.handle(says("tg-7", wrong))
    refused_unknown = await gateway.handle(says("tg-8", "123456"))
    assert joined(refused) == joined(refused_unknown)

    replies = await gateway.handle(says("tg-7", code))
    assert app.code in joined(replies)
    assert (await identity(world, Channel.TELEGRAM, "tg-7")).candidate_id == app.candidate_id
    assert [(e.action, e.via) for e in await events(world)] == [
        (IdentityAction.BOUND, "manual_code")
    ]


async def test_five_wrong_codes_lock_the_application(world: World) -> None:
    await world.applicant(1)
    app = await world.application(1)
    secret, start = "s" * 40, datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    redis = world.runtime.redis
    async with world.runtime.transaction() as session:
        attacker = ChatIdentity(channel=Channel.TELEGRAM, external_user_id="tg-x")
        session.add(attacker)
        await session.flush()
        sent = await binding.request_code(
            session, attacker, app.code, CONTACT, redis=redis, secret=secret, now=start
        )
        assert sent is not None
        wrong = "000000" if sent.code != "000000" else "111111"
        for attempt in range(5):
            assert (
                await binding.verify_code(
                    session,
                    attacker,
                    wrong,
                    application_code=None if attempt < 4 else app.code,
                    redis=redis,
                    secret=secret,
                    now=start + timedelta(seconds=attempt),
                )
                is None
            )
        state = await session.get_one(ManualBinding, app.id)
        assert state.locked_until == start + timedelta(seconds=4, minutes=15)
        # Locked: the right code no longer works, and no new code is sent.
        assert (
            await binding.verify_code(
                session,
                attacker,
                sent.code,
                application_code=app.code,
                redis=redis,
                secret=secret,
                now=start + timedelta(minutes=5),
            )
            is None
        )
        assert (
            await binding.request_code(
                session,
                attacker,
                app.code,
                CONTACT,
                redis=redis,
                secret=secret,
                now=start + timedelta(minutes=5),
            )
            is None
        )
        # After the lock, a fresh code works.
        later = start + timedelta(minutes=20)
        fresh = await binding.request_code(
            session, attacker, app.code, CONTACT, redis=redis, secret=secret, now=later
        )
        assert fresh is not None
        result = await binding.verify_code(
            session,
            attacker,
            fresh.code,
            application_code=None,
            redis=redis,
            secret=secret,
            now=later,
        )
        assert result is not None
        assert result.application.id == app.id


async def test_stop_opts_out_and_results_go_to_the_next_channel(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM], preferred_channels=["telegram", "email"])
    app = await world.application(1)

    replies = await gateway.handle(says("telegram-user-1", "STOP"))

    assert "Telegram" in joined(replies)
    async with world.runtime.sessionmaker() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        assert await deliverable_channels(session, candidate) == [Channel.EMAIL]
    await gateway.handle(says("telegram-user-1", "订阅"))
    async with world.runtime.sessionmaker() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        assert await deliverable_channels(session, candidate) == [Channel.TELEGRAM, Channel.EMAIL]
    assert [e.action for e in await events(world)] == [
        IdentityAction.OPTED_OUT,
        IdentityAction.OPTED_IN,
    ]


async def test_a_preference_reorders_the_channels(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT], preferred_channels=["wechat", "email"])
    app = await world.application(1)

    replies = await gateway.handle(says("wechat-user-1", "以后发邮件给我", channel=Channel.WECHAT))

    assert "邮件" in joined(replies)
    async with world.runtime.sessionmaker() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        assert candidate.preferred_channels == ["email", "wechat"]
        assert await deliverable_channels(session, candidate) == [Channel.EMAIL, Channel.WECHAT]
    [event] = await events(world)
    assert event.details == {"before": ["wechat", "email"], "after": ["email", "wechat"]}


async def test_asking_for_texts_puts_sms_first_and_lifts_an_earlier_td(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT], preferred_channels=["wechat", "email"])
    app = await world.application(1)
    async with world.runtime.transaction() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        candidate.sms_opted_out_at = utcnow()  # they had replied TD to a text

    replies = await gateway.handle(
        says("wechat-user-1", "以后发短信通知我", channel=Channel.WECHAT)
    )

    assert "短信" in joined(replies)
    async with world.runtime.sessionmaker() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        assert candidate.preferred_channels == ["sms", "wechat", "email"]
        assert candidate.sms_opted_out_at is None
        assert await deliverable_channels(session, candidate) == [
            Channel.SMS,
            Channel.WECHAT,
            Channel.EMAIL,
        ]
        [consent] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "candidate.consent_changed")
            )
        ).all()
    assert (consent.before, consent.after) == ({"sms": False}, {"sms": True})


async def test_asking_for_texts_without_a_textable_mobile_changes_nothing(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.WECHAT], preferred_channels=["wechat", "email"])
    app = await world.application(1)
    async with world.runtime.transaction() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        candidate.mobile = None

    replies = await gateway.handle(says("wechat-user-1", "以后发短信给我", channel=Channel.WECHAT))

    assert "手机号" in joined(replies)
    async with world.runtime.sessionmaker() as session:
        candidate = await session.get_one(Candidate, app.candidate_id)
        assert candidate.preferred_channels == ["wechat", "email"]


async def test_other_messages_of_bound_candidates_go_to_the_engine(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    app = await world.application(1)

    replies = await gateway.handle(
        says("telegram-user-1", "我的面试结果出来了吗？", provider_id="5")
    )
    duplicate = await gateway.handle(
        says("telegram-user-1", "我的面试结果出来了吗？", provider_id="5")
    )

    assert joined(replies) == "收到您的消息，HR 会尽快回复您。"
    assert duplicate == []
    async with world.runtime.sessionmaker() as session:
        rows = (await session.scalars(select(ChatMessage).order_by(ChatMessage.id))).all()
        assert await session.scalar(select(func.count()).select_from(ChatMessage)) == 2
    assert [(r.direction, r.author, r.candidate_id) for r in rows] == [
        (Direction.INBOUND, None, app.candidate_id),
        (Direction.OUTBOUND, "engine:placeholder", app.candidate_id),
    ]


class SlowEngine:
    name = "slow"

    def __init__(self) -> None:
        self.calls = 0

    async def respond(self, session: object, turn: object) -> list[Reply]:
        self.calls += 1
        await asyncio.sleep(0.2)
        return [Reply("稍等")]


async def test_a_redelivery_racing_its_original_is_answered_once(world: World) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    engine = SlowEngine()
    gateway = ConversationGateway(world.runtime, engine=engine)
    message = says("telegram-user-1", "在吗", provider_id="update:9")

    first, second = await asyncio.gather(gateway.handle(message), gateway.handle(message))

    assert sorted([len(first), len(second)]) == [0, 1]
    assert engine.calls == 1
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ChatMessage)) == 2


class WatchingEngine:
    """Looks, when asked to answer, at what another session sees and who was told what."""

    name = "watching"

    def __init__(self, world: World, notified: list[str]) -> None:
        self.world, self.notified = world, notified
        self.committed_inbound: int | None = None
        self.notified_before: list[str] = []

    async def respond(self, session: object, turn: object) -> list[Reply]:
        async with self.world.runtime.sessionmaker() as other:
            self.committed_inbound = await other.scalar(
                select(func.count())
                .select_from(ChatMessage)
                .where(ChatMessage.direction == Direction.INBOUND)
            )
        self.notified_before = list(self.notified)
        return [Reply("好")]


async def test_the_gateway_says_a_message_is_recorded_once_committed_before_the_answer(
    world: World,
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    notified: list[str] = []
    engine = WatchingEngine(world, notified)
    gateway = ConversationGateway(world.runtime, engine=engine)

    with notify_recorded(lambda: notified.append("recorded")):
        replies = await gateway.handle(says("telegram-user-1", "在吗", provider_id="update:10"))

    assert joined(replies) == "好"
    assert engine.notified_before == ["recorded"]  # told before the engine answered ...
    assert engine.committed_inbound == 1  # ... and the message was committed by then
    assert notified == ["recorded"]


async def test_unbinding_is_audited_and_the_account_learns_nothing_more(
    world: World, gateway: ConversationGateway
) -> None:
    await world.applicant(1, bind=[Channel.TELEGRAM])
    app = await world.application(1)

    await gateway.handle(says("telegram-user-1", "解绑"))
    after = await gateway.handle(says("telegram-user-1", "我的面试结果出来了吗？"))

    assert (await identity(world, Channel.TELEGRAM, "telegram-user-1")).bound_at is None
    assert app.code not in joined(after)
    assert "绑定" in joined(after)
    [event] = await events(world)
    assert (event.action, event.previous_candidate_id, event.actor, event.via) == (
        IdentityAction.UNBOUND,
        app.candidate_id,
        "candidate",
        "command",
    )
