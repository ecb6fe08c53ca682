"""One-time subscription notifications (一次性订阅消息): the prompt link and its answer.

WeChat lets an account send one notification per "allow" the user taps on a subscription
prompt. Candor sends a user the prompt link in chat; WeChat redirects the user's answer to
`GET /wechat/subscribe` with the openid, the template, the scene and our `reserved` value.
`reserved` is an HMAC over the openid, template and scene, so only a link Candor made for
that very user records a grant (the redirect itself is not signed by WeChat). A grant is
recorded only for a user bound to a candidate who consented to WeChat subscription
notifications (`Candidate.consent_wechat_subscription`, from the ATS); the sender spends
one grant per notification.
"""

from __future__ import annotations

import base64
import hmac
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wechat.state import SubscriptionGrant, WeChatState
from candor.models import Candidate, ChatIdentity
from candor.models.enums import Channel

PROMPT_URL = "https://mp.weixin.qq.com/mp/subscribemsg"
MAX_SCENE = 10000


def reserved_for(secret: str, *, openid: str, template_id: str, scene: int) -> str:
    digest = hmac.new(
        secret.encode(), f"wechat-subscribe|{openid}|{template_id}|{scene}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def prompt_link(
    secret: str, *, app_id: str, openid: str, template_id: str, scene: int, redirect_url: str
) -> str:
    """The link that asks `openid` to allow one notification with `template_id`."""
    if not 0 <= scene <= MAX_SCENE:
        raise ValueError(f"scene must be 0..{MAX_SCENE}")
    query = urlencode(
        {
            "action": "get_confirm",
            "appid": app_id,
            "scene": scene,
            "template_id": template_id,
            "redirect_url": redirect_url,
            "reserved": reserved_for(secret, openid=openid, template_id=template_id, scene=scene),
        }
    )
    return f"{PROMPT_URL}?{query}#wechat_redirect"


async def record_answer(
    session: AsyncSession,
    state: WeChatState,
    secret: str,
    *,
    openid: str,
    template_id: str,
    scene: int,
    action: str,
    reserved: str,
) -> bool:
    """Record the grant if the answer is "confirm", genuine and from a consenting candidate.

    Returns whether a grant was recorded. Reads the database, writes only Redis.
    """
    expected = reserved_for(secret, openid=openid, template_id=template_id, scene=scene)
    if action != "confirm" or not hmac.compare_digest(expected, reserved):
        return False
    consented = await session.scalar(
        select(Candidate.consent_wechat_subscription)
        .join(ChatIdentity, ChatIdentity.candidate_id == Candidate.id)
        .where(
            ChatIdentity.channel == Channel.WECHAT,
            ChatIdentity.external_user_id == openid,
            ChatIdentity.bound_at.is_not(None),
        )
    )
    if not consented:
        return False
    await state.add_subscription_grant(openid, SubscriptionGrant(template_id, scene))
    return True
