"""One-time subscription notifications (一次性订阅消息): recording the user's answer to the
prompt link (`candor.chat.subscription_prompt` makes the link).

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

import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wechat.state import SubscriptionGrant, WeChatState
from candor.chat.subscription_prompt import reserved_for
from candor.crypto.lookups import has_chat_id
from candor.models import Candidate, ChatIdentity
from candor.models.enums import Channel


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
            *has_chat_id(Channel.WECHAT, openid),
            ChatIdentity.bound_at.is_not(None),
        )
    )
    if not consented:
        return False
    await state.add_subscription_grant(openid, SubscriptionGrant(template_id, scene))
    return True
