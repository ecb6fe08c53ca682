"""`/wechat/callback` end to end: signed requests in every mode, bad input, retries, replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from api.app import create_app
from bot.channels.wechat.messages import safe_xml
from bot.channels.wechat.state import WeChatState
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from bot.gateway import Gateway
from candor.models import ChatMessage
from candor.models.enums import Channel
from candor.models.scheduling import BookingState
from candor.runtime import Runtime
from nlu.model import NluModel
from tests.booking_chat_world import booking_world, bookings
from tests.dialogue_world import nlu_model
from tests.outreach_world import World
from tests.wechat_support import (
    AES_KEY,
    APP_ID,
    PREVIOUS_AES_KEY,
    EchoGateway,
    RunningFakeWeChat,
    WeChatSigner,
    event_xml,
    running_fake_wechat,
    text_xml,
    wechat_settings,
    with_settings,
)

OPENID = "o-candidate-1"
__all__ = ["nlu_model"]  # the fixture
Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def fake_wechat() -> AsyncIterator[RunningFakeWeChat]:
    async with running_fake_wechat() as fake:
        yield fake


@pytest.fixture
def wechat_client(runtime: Runtime, fake_wechat: RunningFakeWeChat) -> Client:
    @asynccontextmanager
    async def client(
        gateway: Gateway,
        *,
        aes_key: str | None = None,
        previous_aes_key: str | None = None,
        budget: float = 3.5,
        mode: str | None = None,
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = wechat_settings(
            runtime.settings,
            fake_wechat.url,
            aes_key=aes_key,
            previous_aes_key=previous_aes_key,
            budget=budget,
            mode=mode,
        )
        app = create_app(
            runtime=with_settings(runtime, settings),
            gateway_factory=lambda _runtime: gateway,
        )
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://candor.test"
            ) as http,
        ):
            yield http

    return client


async def _wechat_keys(runtime: Runtime) -> list[str]:
    return sorted(str(key) for key in await runtime.redis.keys("wechat:*"))


def _content(xml: str) -> str | None:
    return safe_xml(xml).findtext("Content")


async def _transcript_rows(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(ChatMessage)) or 0)


# -- URL verification ----------------------------------------------------------------------


async def test_url_verification_echoes_a_signed_echostr(wechat_client: Client) -> None:
    callback = WeChatSigner().callback("")
    async with wechat_client(EchoGateway()) as http:
        response = await http.get(callback.url + "&echostr=5837397749589275302")

    assert response.status_code == 200
    assert response.text == "5837397749589275302"


async def test_url_verification_with_a_wrong_signature_is_refused(wechat_client: Client) -> None:
    callback = WeChatSigner().callback("")
    url = callback.url.replace("signature=", "signature=0") + "&echostr=1"
    async with wechat_client(EchoGateway()) as http:
        response = await http.get(url)

    assert response.status_code == 403


async def test_url_verification_with_a_stale_timestamp_is_refused(wechat_client: Client) -> None:
    callback = WeChatSigner().callback("", timestamp=int(time.time()) - 600)
    async with wechat_client(EchoGateway()) as http:
        response = await http.get(callback.url + "&echostr=1")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wechat_stale_request"


async def test_the_same_url_verification_is_refused_the_second_time(
    wechat_client: Client,
) -> None:
    verification = WeChatSigner().callback("")
    async with wechat_client(EchoGateway()) as http:
        first = await http.get(verification.url + "&echostr=42")
        again = await http.get(verification.url + "&echostr=42")

    assert first.status_code == 200
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "wechat_replayed_nonce"


@pytest.mark.parametrize("mode", [None, "compatible"])
async def test_a_url_verifications_query_cannot_sign_a_message(
    wechat_client: Client, runtime: Runtime, mode: str | None
) -> None:
    # The verification's query string (in an access log, say) replayed with a forged body.
    verification = WeChatSigner().callback("", nonce="31337")
    forged = WeChatSigner().callback(text_xml(OPENID, "退订", 5001), nonce="31337")
    assert forged.url == verification.url
    gateway = ConversationGateway(runtime)
    async with wechat_client(gateway, aes_key=AES_KEY if mode else None, mode=mode) as http:
        verified = await http.get(verification.url + "&echostr=42")
        replayed = await http.post(verification.url, content=forged.body)

    assert verified.status_code == 200
    assert replayed.status_code == 403
    assert replayed.json()["error"]["code"] == "wechat_replayed_nonce"
    assert await _transcript_rows(runtime) == 0


async def test_a_messages_nonce_cannot_verify_the_url(wechat_client: Client) -> None:
    message = WeChatSigner().callback(text_xml(OPENID, "hi", 5002))
    async with wechat_client(EchoGateway()) as http:
        accepted = await http.post(message.url, content=message.body)
        verification = await http.get(message.url + "&echostr=42")

    assert accepted.status_code == 200
    assert verification.status_code == 403
    assert verification.json()["error"]["code"] == "wechat_replayed_nonce"


async def test_without_wechat_settings_the_callback_does_not_exist(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/wechat/callback?signature=a&timestamp=1&nonce=2&echostr=3")

    assert response.status_code == 404


# -- the three modes -------------------------------------------------------------------------


async def test_plaintext_mode_answers_passively(wechat_client: Client, runtime: Runtime) -> None:
    gateway = EchoGateway()
    callback = WeChatSigner().callback(text_xml(OPENID, "你好", 1001))
    async with wechat_client(gateway) as http:
        response = await http.post(callback.url, content=callback.body)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = safe_xml(response.text)
    assert root.findtext("Content") == "echo: 你好"
    assert root.findtext("ToUserName") == OPENID
    [message] = gateway.received
    assert (message.external_user_id, message.text, message.provider_message_id) == (
        OPENID,
        "你好",
        "1001",
    )
    window = await WeChatState(runtime.redis, APP_ID).window(OPENID)
    assert window is not None
    assert window.sent == 0
    assert abs(window.last_inbound - time.time()) < 5


@pytest.mark.parametrize("mode", ["safe", "compatible"])
async def test_encrypted_modes_answer_with_an_encrypted_passive_reply(
    wechat_client: Client, mode: str
) -> None:
    signer = WeChatSigner(mode=mode)
    callback = signer.callback(text_xml(OPENID, "hello", 1002))
    async with wechat_client(EchoGateway(), aes_key=AES_KEY) as http:
        response = await http.post(callback.url, content=callback.body)

    assert response.status_code == 200
    assert safe_xml(response.text).findtext("Encrypt")
    assert _content(signer.open_reply(response.text)) == "echo: hello"


@pytest.mark.parametrize("mode", [None, "safe"])
async def test_safe_mode_refuses_a_plaintext_message_and_records_nothing(
    wechat_client: Client, runtime: Runtime, mode: str | None
) -> None:
    # A validly signed plaintext "unsubscribe" from someone else's openid: in safe mode
    # (chosen, or derived from the key) `signature` alone authenticates no body.
    forged = WeChatSigner().callback(text_xml(OPENID, "退订", 1005))
    async with wechat_client(ConversationGateway(runtime), aes_key=AES_KEY, mode=mode) as http:
        response = await http.post(forged.url, content=forged.body)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wechat_encryption_required"
    assert await _transcript_rows(runtime) == 0
    assert await _wechat_keys(runtime) == []


async def test_compatible_mode_when_chosen_accepts_plaintext_and_encrypted_messages(
    wechat_client: Client, runtime: Runtime
) -> None:
    plaintext = WeChatSigner().callback(text_xml(OPENID, "明文", 1006))
    encrypted_signer = WeChatSigner(mode="compatible")
    encrypted = encrypted_signer.callback(text_xml(OPENID, "密文", 1007))
    gateway = ConversationGateway(runtime)
    async with wechat_client(gateway, aes_key=AES_KEY, mode="compatible") as http:
        plain_reply = await http.post(plaintext.url, content=plaintext.body)
        sealed_reply = await http.post(encrypted.url, content=encrypted.body)

    assert plain_reply.status_code == 200, plain_reply.text
    assert sealed_reply.status_code == 200, sealed_reply.text
    assert _content(plain_reply.text)
    assert _content(encrypted_signer.open_reply(sealed_reply.text))
    assert await _transcript_rows(runtime) >= 2


async def test_during_a_key_rotation_the_previous_key_is_still_accepted(
    wechat_client: Client,
) -> None:
    before_rotation = WeChatSigner(mode="safe", aes_key=PREVIOUS_AES_KEY)
    after_rotation = WeChatSigner(mode="safe", aes_key=AES_KEY)
    old = before_rotation.callback(text_xml(OPENID, "old", 1003))
    new = after_rotation.callback(text_xml(OPENID, "new", 1004))
    async with wechat_client(
        EchoGateway(), aes_key=AES_KEY, previous_aes_key=PREVIOUS_AES_KEY
    ) as http:
        old_reply = await http.post(old.url, content=old.body)
        new_reply = await http.post(new.url, content=new.body)

    # Each reply is sealed with the key its request came with, which WeChat is using.
    assert _content(before_rotation.open_reply(old_reply.text)) == "echo: old"
    assert _content(after_rotation.open_reply(new_reply.text)) == "echo: new"


async def test_a_plaintext_follow_through_a_qr_code_reaches_the_gateway(
    wechat_client: Client, runtime: Runtime
) -> None:
    gateway = EchoGateway()
    callback = WeChatSigner().callback(event_xml(OPENID, "subscribe", "qrscene_bindTOKEN"))
    async with wechat_client(gateway) as http:
        response = await http.post(callback.url, content=callback.body)

    assert _content(response.text) == "event: subscribe bindTOKEN"
    assert [(m.event, m.event_key) for m in gateway.received] == [("subscribe", "bindTOKEN")]
    assert await WeChatState(runtime.redis, APP_ID).window(OPENID) is not None


async def test_an_unfollow_closes_the_window(wechat_client: Client, runtime: Runtime) -> None:
    state = WeChatState(runtime.redis, APP_ID)
    await state.open_window(OPENID, at=int(time.time()))
    gateway = EchoGateway()
    callback = WeChatSigner().callback(event_xml(OPENID, "unsubscribe"))
    async with wechat_client(gateway) as http:
        response = await http.post(callback.url, content=callback.body)

    assert response.status_code == 200
    assert [m.event for m in gateway.received] == ["unsubscribe"]
    assert await state.window(OPENID) is None


# -- bad input: 4xx and nothing written ----------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&c;</Content><MsgId>9</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&x;</Content><MsgId>9</MsgId></xml>"
)


def _tamper(kind: str) -> tuple[str, bytes, int]:
    signer = WeChatSigner()
    good = signer.callback(text_xml(OPENID, "hi", 2001))
    if kind == "wrong signature":
        return good.url.replace("signature=", "signature=ff"), good.body, 403
    if kind == "no signature":
        return "/wechat/callback?timestamp=1&nonce=2", good.body, 403
    if kind == "stale timestamp":
        old = signer.callback(text_xml(OPENID, "hi", 2001), timestamp=int(time.time()) - 301)
        return old.url, old.body, 403
    if kind == "too large":
        big = text_xml(OPENID, "x" * (64 * 1024), 2001)
        return signer.callback(big).url, big.encode(), 413
    if kind == "malformed":
        return good.url, b"<xml><MsgType>text</MsgType>", 400
    if kind == "billion laughs":
        return good.url, BILLION_LAUGHS.encode(), 400
    if kind == "xxe":
        return good.url, XXE.encode(), 400
    if kind == "unknown msgtype":
        return good.url, text_xml(OPENID, "hi", 2001).replace("[text]", "[hologram]").encode(), 400
    if kind == "not utf-8":
        return good.url, text_xml(OPENID, "hi", 2001).encode("utf-16"), 400
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "wrong signature",
        "no signature",
        "stale timestamp",
        "too large",
        "malformed",
        "billion laughs",
        "xxe",
        "unknown msgtype",
        "not utf-8",
    ],
)
async def test_bad_input_gets_a_4xx_and_writes_nothing(
    wechat_client: Client, runtime: Runtime, kind: str
) -> None:
    url, body, status = _tamper(kind)
    gateway = EchoGateway()
    async with wechat_client(gateway) as http:
        response = await http.post(url, content=body)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"].startswith("wechat_")
    assert gateway.received == []
    assert await _wechat_keys(runtime) == []


@pytest.mark.parametrize("problem", ["msg_signature", "no key configured", "foreign key"])
async def test_bad_encrypted_input_gets_a_4xx_and_writes_nothing(
    wechat_client: Client, runtime: Runtime, problem: str
) -> None:
    signer = WeChatSigner(mode="safe", aes_key="Q" * 43 if problem == "foreign key" else AES_KEY)
    callback = signer.callback(text_xml(OPENID, "hi", 2002))
    url = callback.url
    if problem == "msg_signature":
        url = url.replace("msg_signature=", "msg_signature=00")
    gateway = EchoGateway()
    aes_key = None if problem == "no key configured" else AES_KEY
    async with wechat_client(gateway, aes_key=aes_key) as http:
        response = await http.post(url, content=callback.body)

    assert response.status_code == (403 if problem == "msg_signature" else 400)
    assert gateway.received == []
    assert await _wechat_keys(runtime) == []


async def test_a_chunked_body_over_64_kib_is_refused_while_reading(
    wechat_client: Client, runtime: Runtime
) -> None:
    callback = WeChatSigner().callback(text_xml(OPENID, "hi", 2003))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"<!-- " + b"x" * 8192 + b" -->"

    async with wechat_client(EchoGateway()) as http:
        response = await http.post(callback.url, content=chunks())

    assert response.status_code == 413
    assert await _wechat_keys(runtime) == []


async def test_a_nonce_reused_with_another_body_is_refused(wechat_client: Client) -> None:
    signer = WeChatSigner()
    first = signer.callback(text_xml(OPENID, "one", 3001), nonce="777")
    forged = signer.callback(text_xml(OPENID, "two", 3002), nonce="777")
    gateway = EchoGateway()
    async with wechat_client(gateway) as http:
        accepted = await http.post(first.url, content=first.body)
        replayed = await http.post(forged.url, content=forged.body)

    assert accepted.status_code == 200
    assert replayed.status_code == 403
    assert replayed.json()["error"]["code"] == "wechat_replayed_nonce"
    assert [m.text for m in gateway.received] == ["one"]


# -- idempotency ---------------------------------------------------------------------------------


async def test_wechats_retries_are_processed_once_and_answered_alike(
    wechat_client: Client,
) -> None:
    signer = WeChatSigner()
    xml = text_xml(OPENID, "retry me", 4001)
    gateway = EchoGateway()
    async with wechat_client(gateway) as http:
        # The first delivery and WeChat's three retries (each newly signed), plus an exact replay.
        first = signer.callback(xml)
        answers = [await http.post(first.url, content=first.body)]
        for _ in range(3):
            retry = signer.callback(xml)
            answers.append(await http.post(retry.url, content=retry.body))
        answers.append(await http.post(first.url, content=first.body))

    assert len(gateway.received) == 1
    assert {_content(a.text) for a in answers} == {"echo: retry me"}


async def test_an_export_link_in_an_answer_is_not_kept_in_redis(
    wechat_client: Client, runtime: Runtime
) -> None:
    # The de-duplication value keeps the passive answer for WeChat's retries: a data-export
    # link in it must not be usable by whoever reads Redis.
    token = "ExportLinkToken_0123456789abcdef"
    link = f"https://candor.test/privacy/exports/{token}"
    signer = WeChatSigner()
    xml = text_xml(OPENID, link, 4003)
    async with wechat_client(EchoGateway()) as http:
        first = signer.callback(xml)
        answered = await http.post(first.url, content=first.body)
        retry = signer.callback(xml)
        retried = await http.post(retry.url, content=retry.body)

    assert _content(answered.text) == f"echo: {link}"
    assert _content(retried.text) == "echo: https://candor.test/privacy/exports/[single-use link]"
    inbound = [k for k in await _wechat_keys(runtime) if ":inbound:" in k]
    assert inbound
    stored = [await runtime.redis.get(key) for key in inbound]
    assert not any(token in str(value) for value in stored)


async def test_a_retry_while_the_first_is_in_flight_is_not_processed_again(
    wechat_client: Client,
) -> None:
    signer = WeChatSigner()
    xml = text_xml(OPENID, "slowish", 4002)
    gateway = EchoGateway(delay=0.3)
    async with wechat_client(gateway) as http:
        first, retry = signer.callback(xml), signer.callback(xml)
        answers = await asyncio.gather(
            http.post(first.url, content=first.body), http.post(retry.url, content=retry.body)
        )

    assert len(gateway.received) == 1
    assert sorted(a.text if a.text == "success" else "reply" for a in answers) == [
        "reply",
        "success",
    ]


async def test_events_are_deduplicated_by_user_time_and_event(wechat_client: Client) -> None:
    signer = WeChatSigner()
    created = int(time.time())
    gateway = EchoGateway()
    async with wechat_client(gateway) as http:
        for xml in (
            event_xml(OPENID, "SCAN", "k", created=created),
            event_xml(OPENID, "SCAN", "k", created=created),  # a retry
            event_xml(OPENID, "unsubscribe", created=created),  # another event, same second
        ):
            callback = signer.callback(xml)
            assert (await http.post(callback.url, content=callback.body)).status_code == 200

    assert [m.event for m in gateway.received] == ["scan", "unsubscribe"]


# -- slow and failing conversations ------------------------------------------------------------


async def test_a_slow_answer_is_acknowledged_then_sent_as_a_customer_service_message(
    wechat_client: Client, runtime: Runtime, fake_wechat: RunningFakeWeChat
) -> None:
    callback = WeChatSigner().callback(text_xml(OPENID, "take your time", 5001))
    async with wechat_client(EchoGateway(delay=0.4), budget=0.1) as http:
        response = await http.post(callback.url, content=callback.body)
        assert response.text == "success"
        for _ in range(100):
            if fake_wechat.state.sent("custom"):
                break
            await asyncio.sleep(0.02)

    [call] = fake_wechat.state.sent("custom")
    assert call["touser"] == OPENID
    assert call["payload"]["text"]["content"] == "echo: take your time"
    window = await WeChatState(runtime.redis, APP_ID).window(OPENID)
    assert window is not None
    assert window.sent == 1


async def test_shutdown_waits_for_a_late_answer(
    wechat_client: Client, fake_wechat: RunningFakeWeChat
) -> None:
    callback = WeChatSigner().callback(text_xml(OPENID, "late", 5002))
    async with wechat_client(EchoGateway(delay=0.3), budget=0.05) as http:
        assert (await http.post(callback.url, content=callback.body)).text == "success"

    assert len(fake_wechat.state.sent("custom")) == 1


async def test_a_conversation_that_fails_once_is_tried_again_and_answered_in_time(
    wechat_client: Client,
) -> None:
    callback = WeChatSigner().callback(text_xml(OPENID, "boom", 6001))
    gateway = EchoGateway(failures=1)
    async with wechat_client(gateway) as http:
        response = await http.post(callback.url, content=callback.body)

    assert response.status_code == 200
    assert _content(response.text) == "echo: boom"
    assert len(gateway.received) == 2


async def test_a_candidate_books_moves_and_cancels_an_interview_on_wechat(
    wechat_client: Client, world: World, nlu_model: NluModel
) -> None:
    """End to end with WeChat's encryption: the buttons are a numbered list of menu links;
    the candidate answers with a digit or taps a link (which sends its title back)."""
    await world.applicant(1, bind=[Channel.WECHAT])
    booking = await booking_world(world)
    gateway = ConversationGateway(
        world.runtime, engine=EmbeddedEngine(world.runtime, model=nlu_model)
    )
    signer = WeChatSigner(mode="safe")
    message_ids = iter(range(5000, 5100))

    async with wechat_client(gateway, aes_key=AES_KEY, mode="safe") as http:

        async def say(text: str) -> str:
            callback = signer.callback(text_xml("wechat-user-1", text, next(message_ids)))
            response = await http.post(callback.url, content=callback.body)
            assert response.status_code == 200
            content = _content(signer.open_reply(response.text))
            assert content is not None
            return content

        def menu(content: str) -> list[str]:
            """The titles of the numbered links, in order."""
            links = [line for line in content.splitlines() if "weixin://bizmsgmenu" in line]
            return [line.split(">", 1)[1].removesuffix("</a>") for line in links]

        offered = await say("下一轮面试怎么约时间？")
        weekday = "一二三四五六日"[booking.day.weekday()]
        assert f'1. <a href="weixin://bizmsgmenu?msgmenucontent={booking.day.month}月' in offered
        assert menu(offered)[0].startswith(
            f"{booking.day.month}月{booking.day.day}日（周{weekday}）10:00"
        )
        held = await say("1")  # the first time, by its number
        assert menu(held) == ["确认预约", "换个时间"]
        booked = await say("确认预约")  # the link tapped: its title comes back
        assert "预约成功" in booked

        moving = await say(booking.move_request())
        chosen = await say(menu(moving)[0])
        moved = await say(menu(chosen)[0])
        assert "已改期" in moved

        asked = await say("我要取消面试")
        assert menu(asked)[0] == "确定取消"
        cancelled = await say("确定取消")
        assert "已取消" in cancelled

    first, second = await bookings(world, 1)
    assert (first.slot_id, first.state) == (booking.first, BookingState.MOVED)
    assert (second.slot_id, second.state) == (booking.afternoon, BookingState.CANCELLED)
