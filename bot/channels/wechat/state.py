"""What the WeChat channel keeps in Redis, shared by every process.

- nonces seen in the last 10 minutes, from messages and URL verifications alike (a replayed
  signed request is refused);
- inbound messages seen (WeChat retries a callback up to 3 times);
- each user's customer-service window: WeChat accepts customer-service messages only within
  48 hours of the user's last message, and only so many of them;
- one-time subscription grants (the user tapped "allow" on a subscription prompt).

Losing Redis loses none of the conversation (that is in the database); it can let one
retried callback be processed twice and makes the sender fall back to template messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from bot.channels.wechat.envelope import ReplayedNonceError

NONCE_TTL_SECONDS = 600  # twice the timestamp window: a nonce cannot come back while valid
INBOUND_TTL_SECONDS = 3600  # WeChat's retries come within ~15 s; an hour is ample
# WeChat lets customer-service messages through for 48 hours after the user's last message;
# closing the window five minutes early keeps clock skew from costing a refused send.
WINDOW_SECONDS = 48 * 3600 - 300
# The per-window count WeChat documents for customer-service messages; 45047 from the API
# stays the authority, this keeps us from spending calls we know will be refused.
CUSTOMER_SERVICE_MESSAGES_PER_WINDOW = 20
SUBSCRIPTION_GRANT_TTL_SECONDS = 30 * 24 * 3600

PENDING = "pending"
LATER = "later"  # answered by customer-service message after the reply budget ran out
ANSWERED_PREFIX = "answered:"
# What a URL verification leaves under its nonce: never a body digest, so no message can
# be signed with a verification's (possibly logged) query.
URL_VERIFIED = "url-verification"

# KEYS[1] window hash; ARGV[1] limit. Returns the new count, or -1 closed, -2 used up.
_CONSUME_SLOT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local sent = redis.call('HINCRBY', KEYS[1], 'sent', 1)
if sent > tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'sent', -1)
  return -2
end
return sent
"""


# One round trip for everything a new callback records, atomically, so a refused nonce
# writes nothing else. KEYS: nonce, inbound, window. ARGV: body digest, nonce TTL, inbound
# TTL, "open"/"close"/"keep" for the window, now, window TTL.
# Returns {"replayed"}, {"duplicate", <what the first call recorded>} or {"new"}.
_ARRIVE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'replayed'} end
end
if not redis.call('SET', KEYS[2], 'pending', 'NX', 'EX', ARGV[3]) then
  return {'duplicate', redis.call('GET', KEYS[2]) or 'pending'}
end
if ARGV[4] == 'open' then
  redis.call('HSET', KEYS[3], 'last_inbound', ARGV[5], 'sent', 0)
  redis.call('EXPIRE', KEYS[3], ARGV[6])
elseif ARGV[4] == 'close' then
  redis.call('DEL', KEYS[3])
end
return {'new'}
"""


class WindowChange(StrEnum):
    OPEN = "open"  # the user wrote, followed or scanned: a fresh 48-hour window
    CLOSE = "close"  # the user unfollowed
    KEEP = "keep"


class WeChatState:
    def __init__(self, redis: Redis, app_id: str) -> None:
        self.redis = redis
        self._prefix = f"wechat:{app_id}"
        self._consume = redis.register_script(_CONSUME_SLOT)
        self._arrive = redis.register_script(_ARRIVE)

    async def arrive(
        self,
        *,
        timestamp: str,
        nonce: str,
        body_digest: str,
        dedupe_key: str,
        openid: str,
        window: WindowChange,
        now: int,
    ) -> str | None:
        """Record a verified callback in one atomic step, and say whether it is new.

        The nonce: in plaintext mode the signature covers only token, timestamp and nonce,
        not the body, so a captured signature could carry any message; each nonce is good
        for one body for 10 minutes (`ReplayedNonceError` otherwise). The same body again
        is WeChat retrying, or a replay of a message already taken, which de-duplication
        answers.

        The message (MsgId, or user + time + event): None when this call owns it; otherwise
        what the first call recorded (pending, answered later, or its passive answer). Only
        a new message changes the user's window.
        """
        result: Any = await self._arrive(
            keys=[
                self._nonce(timestamp, nonce),
                self._inbound(dedupe_key),
                self._window(openid),
            ],
            args=[
                body_digest,
                NONCE_TTL_SECONDS,
                INBOUND_TTL_SECONDS,
                window.value,
                now,
                WINDOW_SECONDS,
            ],
        )
        outcome = [str(part) for part in result]
        if outcome[0] == "replayed":
            raise ReplayedNonceError("this nonce was already used")
        if outcome[0] == "duplicate":
            return outcome[1]
        return None

    async def use_nonce_for_url_verification(self, *, timestamp: str, nonce: str) -> None:
        """Use up a URL verification's nonce; `ReplayedNonceError` if it was ever seen.

        A verification has no retry to recognise, so unlike a message, the same nonce is
        never accepted twice.
        """
        taken = await self.redis.set(
            self._nonce(timestamp, nonce), URL_VERIFIED, nx=True, ex=NONCE_TTL_SECONDS
        )
        if not taken:
            raise ReplayedNonceError("this nonce was already used")

    def _nonce(self, timestamp: str, nonce: str) -> str:
        return f"{self._prefix}:nonce:{timestamp}:{nonce}"

    def _inbound(self, dedupe_key: str) -> str:
        return f"{self._prefix}:inbound:{dedupe_key}"

    async def complete_inbound(self, dedupe_key: str, outcome: str) -> None:
        await self.redis.set(self._inbound(dedupe_key), outcome, xx=True, keepttl=True)

    async def release_inbound(self, dedupe_key: str) -> None:
        """Forget a message whose processing failed, so WeChat's retry is processed."""
        await self.redis.delete(self._inbound(dedupe_key))

    # -- the customer-service window ------------------------------------------------------

    def _window(self, openid: str) -> str:
        return f"{self._prefix}:window:{openid}"

    async def open_window(self, openid: str, *, at: int) -> None:
        """The user just wrote (or followed, or scanned): a fresh 48-hour window."""
        key = self._window(openid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"last_inbound": at, "sent": 0})
            pipe.expire(key, WINDOW_SECONDS)
            await pipe.execute()

    async def close_window(self, openid: str) -> None:
        await self.redis.delete(self._window(openid))

    async def window(self, openid: str) -> ServiceWindow | None:
        raw = await self.redis.hgetall(self._window(openid))
        if not raw:
            return None
        return ServiceWindow(last_inbound=int(raw["last_inbound"]), sent=int(raw["sent"]))

    async def take_window_slot(self, openid: str) -> bool:
        """Count one customer-service message against the window; False when closed or full."""
        result: Any = await self._consume(
            keys=[self._window(openid)], args=[CUSTOMER_SERVICE_MESSAGES_PER_WINDOW]
        )
        return int(result) > 0

    async def return_window_slot(self, openid: str) -> None:
        """A message that did not go out gives its slot back (if the window still exists)."""
        key = self._window(openid)
        if await self.redis.exists(key):
            await self.redis.hincrby(key, "sent", -1)

    # -- one-time subscription grants -----------------------------------------------------

    def _grants(self, openid: str) -> str:
        return f"{self._prefix}:subscription:{openid}"

    async def add_subscription_grant(self, openid: str, grant: SubscriptionGrant) -> None:
        key = self._grants(openid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, grant.dumps())
            pipe.expire(key, SUBSCRIPTION_GRANT_TTL_SECONDS)
            await pipe.execute()

    async def take_subscription_grant(self, openid: str) -> SubscriptionGrant | None:
        raw = await self.redis.lpop(self._grants(openid))
        return None if raw is None else SubscriptionGrant.loads(str(raw))

    async def return_subscription_grant(self, openid: str, grant: SubscriptionGrant) -> None:
        await self.redis.lpush(self._grants(openid), grant.dumps())


@dataclass(frozen=True, slots=True)
class ServiceWindow:
    last_inbound: int
    sent: int


@dataclass(frozen=True, slots=True)
class SubscriptionGrant:
    """One message the user allowed through a one-time subscription prompt."""

    template_id: str
    scene: int

    def dumps(self) -> str:
        return json.dumps({"template_id": self.template_id, "scene": self.scene})

    @classmethod
    def loads(cls, raw: str) -> SubscriptionGrant:
        data = json.loads(raw)
        return cls(template_id=str(data["template_id"]), scene=int(data["scene"]))
