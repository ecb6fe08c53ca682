"""SMS provider callbacks over HTTP, in each provider's documented shape: replies that opt
out, delivery receipts that settle the message, and the token that guards them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
import structlog
from pydantic import SecretStr
from sqlalchemy import func, select, update

from candor.clock import utcnow
from candor.delivery.sms_numbers import normalize_mobile
from candor.logging import configure_logging
from candor.models import AuditEntry, Candidate
from candor.models.enums import Channel
from candor.models.outreach import (
    MessageState,
    MessageTemplate,
    OutboxItem,
    OutboxState,
    OutreachMessage,
)
from candor.models.webhooks import WebhookEvent
from candor.outreach.service import deliverable_channels
from candor.runtime import Runtime
from tests.app_client import app_client
from tests.candor.outreach.conftest import webhook_dispatcher
from tests.fakes import RunningFakeChannel, running_fake_channel
from tests.outreach_world import World

TOKEN = "sms-callback-token-0123456789"


def sms_runtime(world: World, **settings: Any) -> Runtime:
    return replace(
        world.runtime,
        settings=world.runtime.settings.model_copy(
            update={"sms_callback_token": SecretStr(TOKEN), **settings}
        ),
    )


@pytest.fixture
async def sms(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(sms_runtime(world)) as http:
        yield http


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeChannel]:
    async with running_fake_channel() as running:
        yield running


def alibaba_up(phone: str, content: str) -> list[dict[str, Any]]:
    return [
        {
            "phone_number": phone,
            "send_time": "2026-03-06 09:00:00",
            "content": content,
            "sign_name": "示例科技",
            "dest_code": "1234",
            "sequence_id": 1234567890,
        }
    ]


def tencent_reply(mobile: str, text: str) -> dict[str, Any]:
    return {
        "extend": "",
        "mobile": mobile,
        "nationcode": "86",
        "sign": "示例科技",
        "text": text,
        "time": 1772758800,
    }


async def candidate(world: World, n: int = 1) -> Candidate:
    async with world.runtime.sessionmaker() as session:
        found = await session.scalar(select(Candidate).where(Candidate.external_id == f"cand-{n}"))
        assert found is not None
        return found


async def consent_audits(world: World) -> list[AuditEntry]:
    async with world.runtime.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "candidate.consent_changed")
                    .order_by(AuditEntry.id)
                )
            ).all()
        )


async def webhook_events(world: World) -> list[tuple[str, dict[str, Any]]]:
    """What the ATS is told, in order: each event's type and payload data."""
    async with world.runtime.sessionmaker() as session:
        found = await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        return [(event.type.value, event.payload["data"]) for event in found]


async def test_td_replied_through_alibaba_opts_the_number_out_of_sms_once(
    sms: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, preferred_channels=["sms", "email"])
    url = f"/sms/alibaba/replies?token={TOKEN}"

    first = await sms.post(url, json=alibaba_up("13800138000", "TD"))
    replay = await sms.post(url, json=alibaba_up("13800138000", "TD"))

    assert first.status_code == 200, first.text
    assert first.json() == {"code": 0, "msg": "接收成功"}
    assert replay.status_code == 200
    opted_out = await candidate(world)
    assert opted_out.sms_opted_out_at is not None
    [entry] = await consent_audits(world)  # the replay wrote nothing
    assert (entry.object_id, entry.before, entry.after) == (
        str(opted_out.id),
        {"sms": True},
        {"sms": False},
    )
    assert entry.details == {"via": "sms_reply", "provider": "alibaba"}
    async with world.runtime.sessionmaker() as session:
        assert await deliverable_channels(session, opted_out) == [Channel.EMAIL]
    [(_, data)] = [e for e in await webhook_events(world) if e[0] == "candidate.opted_out"]
    assert (data["scope"], data["channel"], data["via"]) == ("channel", "sms", "sms_reply")
    assert data["candidate_external_id"] == "cand-1"


async def test_tuiding_replied_through_tencent_opts_out_whatever_form_the_ats_wrote_the_number_in(
    sms: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1, mobile="+86 138-0013-8000")
    await world.applicant(2, mobile="13900139000")

    response = await sms.post(
        f"/sms/tencent/replies?token={TOKEN}", json=tencent_reply("13800138000", " 退订。")
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"result": 0, "errmsg": "OK"}
    assert (await candidate(world, 1)).sms_opted_out_at is not None
    assert (await candidate(world, 2)).sms_opted_out_at is None


async def test_every_written_form_a_text_goes_to_is_opted_out_by_td(
    sms: httpx.AsyncClient, world: World
) -> None:
    forms = [
        "(+86) 138.0013.8000",
        "+86\u00a0138 0013 8000",
        "0086 138-0013-8000",
        "86 13800138000",
        "138\t0013\t8000",
        "+86\u3000138\u30000013\u30008000",
    ]
    for n, form in enumerate(forms, start=1):
        assert normalize_mobile(form) == "+8613800138000"  # the sender texts each of them
        await world.applicant(n)
        # The ATS API admits digits, spaces and dashes only; other sources (an older import,
        # the database itself) may hold any form the sender accepts.
        async with world.runtime.transaction() as session:
            await session.execute(
                update(Candidate).where(Candidate.external_id == f"cand-{n}").values(mobile=form)
            )

    response = await sms.post(
        f"/sms/alibaba/replies?token={TOKEN}", json=alibaba_up("13800138000", "TD")
    )

    assert response.status_code == 200, response.text
    for n in range(1, len(forms) + 1):
        assert (await candidate(world, n)).sms_opted_out_at is not None, forms[n - 1]


async def test_any_other_reply_changes_nothing(sms: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)

    response = await sms.post(
        f"/sms/alibaba/replies?token={TOKEN}", json=alibaba_up("13800138000", "TD是什么意思")
    )

    assert response.status_code == 200
    assert (await candidate(world)).sms_opted_out_at is None
    assert await consent_audits(world) == []


async def sent_by_sms(world: World, fake: RunningFakeChannel) -> tuple[int, str]:
    """An advance result sent by SMS through the fake provider: its message id and the
    provider's id for it."""
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "advance.zh-CN")
            .values(sms_template_code="SMS_1", sms_params={"name": "{{ candidate_name }}"})
        )
    await world.applicant(1, preferred_channels=["sms", "email"])
    await world.decide(1, "advance")
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    async with httpx.AsyncClient() as http:
        await (await webhook_dispatcher(world, fake, http)).run_once()
    [delivery] = fake.state.deliveries
    assert delivery["channel"] == "sms"
    assert delivery["recipient"] == "+8613800138000"  # E.164, as the senders take it
    async with world.runtime.sessionmaker() as session:
        message = (await session.scalars(select(OutreachMessage))).one()
    assert message.state is MessageState.SENT
    return message.id, str(delivery["id"])


async def the_message(world: World, message_id: int) -> OutreachMessage:
    async with world.runtime.sessionmaker() as session:
        return await session.get_one(OutreachMessage, message_id)


async def outbox(world: World) -> list[tuple[Channel, OutboxState]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxItem.channel, OutboxItem.state).order_by(OutboxItem.id)
        )
        return [(channel, state) for channel, state in rows]


async def test_an_alibaba_receipt_marks_the_message_delivered_and_a_replay_changes_nothing(
    sms: httpx.AsyncClient, world: World, fake: RunningFakeChannel
) -> None:
    message_id, biz_id = await sent_by_sms(world, fake)
    report = {
        "phone_number": "13800138000",
        "send_time": "2026-03-06 09:00:00",
        "report_time": "2026-03-06 09:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": "",
    }
    url = f"/sms/alibaba/receipts?token={TOKEN}"

    first = await sms.post(url, json=[report])
    delivered_at = (await the_message(world, message_id)).delivered_at
    replay = await sms.post(url, json=[report, {**report, "success": False}])

    assert (first.status_code, replay.status_code) == (200, 200)
    message = await the_message(world, message_id)
    assert message.state is MessageState.DELIVERED
    assert isinstance(delivered_at, datetime)
    assert message.delivered_at == delivered_at
    confirmed = [
        data["confirmed_by"]
        for kind, data in await webhook_events(world)
        if kind == "message.delivered"
    ]
    assert confirmed == ["channel", "receipt"]  # the provider took it; its receipt, once


async def test_a_failed_tencent_receipt_moves_the_message_to_the_next_channel(
    sms: httpx.AsyncClient, world: World, fake: RunningFakeChannel
) -> None:
    message_id, serial_no = await sent_by_sms(world, fake)
    status = {
        "user_receive_time": "2026-03-06 09:00:05",
        "nationcode": "86",
        "mobile": "13800138000",
        "report_status": "FAIL",
        "errmsg": "MK:0001",
        "description": "用户短信接收失败",
        "sid": serial_no,
    }

    response = await sms.post(f"/sms/tencent/receipts?token={TOKEN}", json=[status])
    replay = await sms.post(f"/sms/tencent/receipts?token={TOKEN}", json=[status])

    assert (response.status_code, replay.status_code) == (200, 200)
    assert response.json() == {"result": 0, "errmsg": "OK"}
    message = await the_message(world, message_id)
    assert message.state is MessageState.QUEUED
    assert await outbox(world) == [
        (Channel.SMS, OutboxState.PERMANENT_FAILURE),
        (Channel.EMAIL, OutboxState.PENDING),
    ]


async def test_a_failed_receipt_with_no_channel_left_fails_the_message(
    sms: httpx.AsyncClient, world: World, fake: RunningFakeChannel
) -> None:
    message_id, biz_id = await sent_by_sms(world, fake)
    async with world.runtime.transaction() as session:
        await session.execute(update(Candidate).values(email=None))

    response = await sms.post(
        f"/sms/alibaba/receipts?token={TOKEN}",
        json=[{"biz_id": biz_id, "success": False, "err_code": "MK:0001", "err_msg": "失败"}],
    )

    assert response.status_code == 200, response.text
    assert (await the_message(world, message_id)).state is MessageState.FAILED
    assert await outbox(world) == [(Channel.SMS, OutboxState.PERMANENT_FAILURE)]
    [(_, data)] = [e for e in await webhook_events(world) if e[0] == "message.undeliverable"]
    assert data["channel"] == "sms"
    assert "MK:0001" in data["reason"]


async def test_a_receipt_for_an_unknown_id_is_acknowledged_and_ignored(
    sms: httpx.AsyncClient, world: World
) -> None:
    response = await sms.post(
        f"/sms/alibaba/receipts?token={TOKEN}", json=[{"biz_id": "never-sent", "success": True}]
    )

    assert response.status_code == 200
    assert response.json()["code"] == 0


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("alibaba/replies", b"{not json", "invalid_json"),
        ("alibaba/replies", b'{"phone_number": "13800138000", "content": "TD"}', None),
        ("alibaba/receipts", b'[{"success": true}]', "invalid_sms_callback"),
        ("alibaba/receipts", b'[{"biz_id": "1", "success": "maybe"}]', "invalid_sms_callback"),
        ("tencent/replies", b'{"mobile": "13800138000"}', "invalid_sms_callback"),
        ("tencent/receipts", b'[{"sid": "1", "report_status": "MAYBE"}]', "invalid_sms_callback"),
        ("tencent/receipts", b'{"sid": "1", "report_status": "FAIL"}', "invalid_sms_callback"),
        ("tencent/receipts", b"null", "invalid_sms_callback"),
    ],
)
async def test_bodies_not_in_the_providers_shape_are_400_and_change_nothing(
    sms: httpx.AsyncClient, world: World, path: str, body: bytes, code: str | None
) -> None:
    await world.applicant(1)

    response = await sms.post(
        f"/sms/{path}?token={TOKEN}", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == (code or "invalid_sms_callback")
    assert (await candidate(world)).sms_opted_out_at is None


async def test_a_batch_with_one_bad_item_applies_none_of_it(
    sms: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)

    response = await sms.post(
        f"/sms/alibaba/replies?token={TOKEN}",
        json=[*alibaba_up("13800138000", "TD"), {"content": "TD"}],
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == ["1.phone_number: Field required"]
    assert (await candidate(world)).sms_opted_out_at is None


async def test_a_wrong_token_is_forbidden_and_changes_nothing(
    sms: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)

    response = await sms.post(
        "/sms/alibaba/replies?token=wrong-token-0123456789", json=alibaba_up("13800138000", "TD")
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (await candidate(world)).sms_opted_out_at is None


async def test_without_a_configured_token_the_callbacks_are_disabled(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await api.post(f"/sms/tencent/receipts?token={TOKEN}", json=[])

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "sms_callbacks_disabled"


@pytest.mark.parametrize(("allowed", "status"), [("10.0.0.0/8", 403), ("127.0.0.0/8", 200)])
async def test_the_address_allow_list_refuses_other_callers(
    world: World, allowed: str, status: int
) -> None:
    await world.applicant(1)
    runtime = sms_runtime(world, sms_callback_allowed_ips=[ip_network(allowed)])

    async with app_client(runtime) as http:
        response = await http.post(
            f"/sms/alibaba/replies?token={TOKEN}", json=alibaba_up("13800138000", "TD")
        )

    assert response.status_code == status
    assert ((await candidate(world)).sms_opted_out_at is not None) is (status == 200)


async def test_the_same_reply_pushed_twice_at_once_is_audited_once(
    sms: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    url = f"/sms/alibaba/replies?token={TOKEN}"

    answers = await asyncio.gather(
        *(sms.post(url, json=alibaba_up("13800138000", "退订")) for _ in range(3))
    )

    assert {a.status_code for a in answers} == {200}
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "candidate.consent_changed")
        )
    assert rows == 1


async def test_receipt_pushes_in_opposite_orders_at_once_both_settle(
    sms: httpx.AsyncClient, world: World, fake: RunningFakeChannel
) -> None:
    """Each receipt locks its message: pushes listing two messages in opposite orders lock
    them in one order, so they never deadlock each other (a 500 on PostgreSQL)."""
    async with world.runtime.transaction() as session:
        await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.key == "advance.zh-CN")
            .values(sms_template_code="SMS_1", sms_params={"name": "{{ candidate_name }}"})
        )
    for n, mobile in ((1, "13800138000"), (2, "13900139000")):
        await world.applicant(n, mobile=mobile, preferred_channels=["sms", "email"])
        await world.decide(n, "advance")
    async with world.runtime.transaction() as session:
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    async with httpx.AsyncClient() as http:
        await (await webhook_dispatcher(world, fake, http)).run_once()
    first, second = (
        {"report_status": "SUCCESS", "errmsg": "DELIVRD", "sid": str(d["id"])}
        for d in fake.state.deliveries
    )
    url = f"/sms/tencent/receipts?token={TOKEN}"

    for _ in range(5):
        answers = await asyncio.gather(
            sms.post(url, json=[first, second]), sms.post(url, json=[second, first])
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    async with world.runtime.sessionmaker() as session:
        states = (await session.scalars(select(OutreachMessage.state))).all()
    assert states == [MessageState.DELIVERED, MessageState.DELIVERED]


async def test_a_missing_token_is_forbidden(sms: httpx.AsyncClient, world: World) -> None:
    response = await sms.post("/sms/alibaba/replies", json=alibaba_up("13800138000", "TD"))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_the_token_never_reaches_the_request_log(
    sms: httpx.AsyncClient, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(world.runtime.settings)  # onto the stderr capsys captures

    await sms.post(f"/sms/tencent/receipts?token={TOKEN}", json=[])
    logged = capsys.readouterr().err
    structlog.reset_defaults()

    assert "path=/sms/tencent/receipts" in logged
    assert TOKEN not in logged
