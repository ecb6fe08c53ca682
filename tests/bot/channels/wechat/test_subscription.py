"""One-time subscription prompts and answers, through `GET /wechat/subscribe`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from bot.channels.wechat.state import SubscriptionGrant, WeChatState
from candor.chat.subscription_prompt import prompt_link, reserved_for
from candor.clock import utcnow
from candor.models import Candidate, ChatIdentity
from candor.models.enums import Channel
from candor.runtime import Runtime
from tests.conftest import TEST_SECRET
from tests.wechat_support import APP_ID, EchoGateway, wechat_settings, with_settings

OPENID = "o-consenting"


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = wechat_settings(runtime.settings, "http://127.0.0.1:9")
    app = create_app(
        runtime=with_settings(runtime, settings), gateway_factory=lambda _r: EchoGateway()
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def _bind(runtime: Runtime, openid: str, *, consent: bool) -> None:
    async with runtime.transaction() as session:
        candidate = Candidate(
            external_id=f"c-{openid}", name="王芳", consent_wechat_subscription=consent
        )
        session.add(candidate)
        await session.flush()
        session.add(
            ChatIdentity(
                channel=Channel.WECHAT,
                external_user_id=openid,
                candidate_id=candidate.id,
                bound_at=utcnow(),
            )
        )


def _answer(openid: str, *, action: str = "confirm", reserved: str | None = None) -> str:
    query = {
        "openid": openid,
        "template_id": "SUB-TPL",
        "action": action,
        "scene": "12",
        "reserved": reserved
        if reserved is not None
        else reserved_for(TEST_SECRET, openid=openid, template_id="SUB-TPL", scene=12),
    }
    return "/wechat/subscribe?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_the_prompt_link_carries_a_reserved_value_for_that_user() -> None:
    link = prompt_link(
        TEST_SECRET,
        app_id=APP_ID,
        openid=OPENID,
        template_id="SUB-TPL",
        scene=12,
        redirect_url="https://candor.example/wechat/subscribe",
    )

    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.fragment == "wechat_redirect"
    assert query["action"] == "get_confirm"
    assert query["reserved"] == reserved_for(
        TEST_SECRET, openid=OPENID, template_id="SUB-TPL", scene=12
    )
    assert query["reserved"] != reserved_for(
        TEST_SECRET, openid="o-someone-else", template_id="SUB-TPL", scene=12
    )


async def test_a_consenting_candidates_confirmation_records_one_grant(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _bind(runtime, OPENID, consent=True)

    response = await http.get(_answer(OPENID))

    assert response.status_code == 200
    state = WeChatState(runtime.redis, APP_ID)
    assert await state.take_subscription_grant(OPENID) == SubscriptionGrant("SUB-TPL", 12)
    assert await state.take_subscription_grant(OPENID) is None


@pytest.mark.parametrize(
    "case", ["no consent", "unbound", "rejected", "forged reserved", "another user's link"]
)
async def test_answers_that_do_not_count_record_nothing_and_look_the_same(
    http: httpx.AsyncClient, runtime: Runtime, case: str
) -> None:
    await _bind(runtime, OPENID, consent=case != "no consent")
    openid = "o-stranger" if case == "unbound" else OPENID
    url = _answer(openid)
    if case == "rejected":
        url = _answer(openid, action="reject")
    elif case == "forged reserved":
        url = _answer(openid, reserved="x" * 43)
    elif case == "another user's link":
        url = _answer(
            openid,
            reserved=reserved_for(TEST_SECRET, openid="o-other", template_id="SUB-TPL", scene=12),
        )
    confirmed = await http.get(_answer(OPENID)) if case == "no consent" else None

    response = await http.get(url)

    assert response.status_code == 200
    assert confirmed is None or confirmed.text == response.text
    assert await runtime.redis.keys("wechat:*") == []


async def test_a_scene_out_of_range_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.get(_answer(OPENID).replace("scene=12", "scene=10001"))

    assert response.status_code == 422
