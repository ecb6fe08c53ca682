"""The link that asks a WeChat user to allow one subscription notification (一次性订阅消息).

WeChat redirects the user's answer back to Candor with our `reserved` value: an HMAC over
the openid, the template and the scene, so only a link Candor made for that very user
records a grant (`bot.channels.wechat.subscription.record_answer` checks it). The chat's
actions offer the link; the WeChat adapter records the answer.
"""

from __future__ import annotations

import base64
import hmac
from urllib.parse import urlencode

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
