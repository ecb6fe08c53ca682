"""The candidate actions' WeChat one-time subscription offer, through the real gateway."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

from bot.channels.wechat.state import SubscriptionGrant, WeChatState
from bot.channels.wechat.subscription import record_answer
from bot.conversation import ConversationGateway
from bot.dialogue.engine import EmbeddedEngine
from candor.models.enums import Channel
from nlu.model import NluModel
from tests.dialogue_world import Chat, result_sent, texts_of
from tests.outreach_world import World

APP_ID = "wx-offer-test"
TEMPLATE = "SUB-RESULT"


def _offering_gateway(world: World, nlu_model: NluModel) -> ConversationGateway:
    settings = world.runtime.settings.model_copy(
        update={
            "wechat_app_id": APP_ID,
            "wechat_subscription_template_id": TEMPLATE,
            "public_url": "https://candor.example/",
        }
    )
    runtime = dataclasses.replace(world.runtime, settings=settings)
    return ConversationGateway(runtime, engine=EmbeddedEngine(runtime, model=nlu_model))


async def _wechat_chat(world: World, gateway: ConversationGateway, n: int, consent: bool) -> Chat:
    await world.applicant(n, bind=[Channel.WECHAT], consent_wechat_subscription=consent)
    return Chat(world, gateway, f"wechat-user-{n}", channel=Channel.WECHAT)


def _link(text: str) -> dict[str, str] | None:
    start = text.find("https://mp.weixin.qq.com/mp/subscribemsg?")
    if start < 0:
        return None
    parts = urlsplit(text[start:].split()[0])
    assert parts.fragment == "wechat_redirect"
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


async def test_a_consenting_candidate_with_a_pending_result_is_offered_a_notification_once(
    world: World, nlu_model: NluModel
) -> None:
    chat = await _wechat_chat(world, _offering_gateway(world, nlu_model), 1, consent=True)

    query = _link(texts_of(await chat.say("我的面试结果出来了吗")))

    assert query is not None
    assert query["appid"] == APP_ID
    assert query["template_id"] == TEMPLATE
    assert query["redirect_url"] == "https://candor.example/wechat/subscribe"
    # The link is the user's own: its answer records a grant for exactly this openid.
    state = WeChatState(world.runtime.redis, APP_ID)
    async with world.runtime.sessionmaker() as session:
        recorded = await record_answer(
            session,
            state,
            world.runtime.settings.secret_key.get_secret_value(),
            openid="wechat-user-1",
            template_id=query["template_id"],
            scene=int(query["scene"]),
            action="confirm",
            reserved=query["reserved"],
        )
    assert recorded
    assert await state.take_subscription_grant("wechat-user-1") == SubscriptionGrant(
        TEMPLATE, int(query["scene"])
    )
    # Asking again does not repeat the offer.
    again = texts_of(await chat.say("结果出来没有"))
    assert "AP-2026-000001" in again
    assert _link(again) is None


async def test_no_offer_without_consent_or_once_the_result_was_sent(
    world: World, nlu_model: NluModel
) -> None:
    gateway = _offering_gateway(world, nlu_model)
    without_consent = await _wechat_chat(world, gateway, 1, consent=False)
    reply = texts_of(await without_consent.say("我的面试结果出来了吗"))
    assert "AP-2026-000001" in reply
    assert _link(reply) is None

    already_sent = await _wechat_chat(world, gateway, 2, consent=True)
    await result_sent(world, 2)
    reply = texts_of(await already_sent.say("我的面试结果出来了吗"))
    assert "AP-2026-000002" in reply
    assert _link(reply) is None


async def test_no_offer_when_no_subscription_template_is_configured(
    world: World, gateway: ConversationGateway
) -> None:
    chat = await _wechat_chat(world, gateway, 1, consent=True)
    reply = texts_of(await chat.say("我的面试结果出来了吗"))
    assert "AP-2026-000001" in reply
    assert _link(reply) is None
