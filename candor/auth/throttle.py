"""Login throttling in Redis: progressive delays instead of lock-outs, and known devices.

A lock-out lets anyone lock anyone out: five wrong passwords sent in a user's name kept the
real user out for 15 minutes. Instead (OWASP's "device cookie" scheme), failures slow down
the clients that fail, and a browser the user has logged in from before keeps working:

- **Untrusted attempts** (no valid device cookie for the account) are counted in three
  scopes: the (account, client address) pair, the client address (one address trying many
  accounts), and the account (many addresses against one account). In each scope the
  `*_FAILURES_BEFORE_DELAY`-th failure starts a delay of `FIRST_DELAY`, and every further
  one doubles it up to `MAX_DELAY`; attempts in a scope whose delay runs are refused
  without looking at the password (and are not counted). A scope forgets its failures
  `FAILURE_MEMORY` after the last one; a success forgets the pair's. Every address is also
  limited to `ATTEMPTS_PER_MINUTE` attempts.
- **Known devices**: a successful login gives the browser a device cookie, signed with the
  app's secret over (account, random nonce) and recorded in Redis for `DEVICE_LIFETIME`.
  An attempt that presents a valid one for its account is counted against that device
  alone: none of the scopes above applies, so an attacker elsewhere cannot slow the user
  down on their own browser. `DEVICE_FAILURES_TO_REVOKE` failures with it revoke it (the
  browser is untrusted from then on).

An attempt is counted *before* its password is checked (and the count undone when it
succeeds), in one atomic script, so a burst of parallel guesses cannot all slip in while
the first ones are being verified.

Redis holds no e-mail address (accounts are a hash of the normalised address) and no usable
cookie (devices are keyed by a hash of the nonce). All keys expire.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from redis.asyncio import Redis

ATTEMPTS_PER_MINUTE = 20
PAIR_FAILURES_BEFORE_DELAY = 5
ACCOUNT_FAILURES_BEFORE_DELAY = 10
ADDRESS_FAILURES_BEFORE_DELAY = 30
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(hours=24)
DEVICE_LIFETIME = timedelta(days=30)
DEVICE_FAILURES_TO_REVOKE = 5
_PREFIX = "candor:login"
_MAX_DEVICE_COOKIE = 200


class Scope(StrEnum):
    """What a refusal is about; the order is the order the script checks them in."""

    PAIR = "pair"  # this account from this address
    ADDRESS = "address"  # this address, whatever accounts it tries
    ACCOUNT = "account"  # this account from untrusted clients, whatever their addresses
    RATE = "rate"  # attempts per minute from this address


_DELAYED_SCOPES = (Scope.PAIR, Scope.ADDRESS, Scope.ACCOUNT)
_THRESHOLDS = {
    Scope.PAIR: PAIR_FAILURES_BEFORE_DELAY,
    Scope.ADDRESS: ADDRESS_FAILURES_BEFORE_DELAY,
    Scope.ACCOUNT: ACCOUNT_FAILURES_BEFORE_DELAY,
}


@dataclass(frozen=True, slots=True)
class Throttled:
    scope: Scope
    retry_after_seconds: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt allowed to check its password; settle it with `succeeded` or `failed`."""

    account: str
    address: str
    device: str | None  # the key of the known device it came from; None when untrusted
    # Per delayed scope key: the delay end this attempt's claim set, and the one before it.
    claims: tuple[tuple[str, int, int], ...]

    @property
    def trusted(self) -> bool:
        return self.device is not None


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _pair_key(account: str, address: str) -> str:
    return f"{_PREFIX}:fail:pair:{account}:{address}"


def _address_key(address: str) -> str:
    return f"{_PREFIX}:fail:ip:{address}"


def _account_key(account: str) -> str:
    return f"{_PREFIX}:fail:user:{account}"


def _rate_key(address: str) -> str:
    return f"{_PREFIX}:rate:ip:{address}"


def _device_key(nonce: str) -> str:
    return f"{_PREFIX}:device:{hashlib.sha256(nonce.encode()).hexdigest()}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


# KEYS: rate, then the delayed scopes' keys. ARGV: now (ms), rate limit, memory (ms), first
# delay (ms), max delay (ms), key TTL (s), then each delayed scope's threshold.
# Returns {'wait', scope index, ms left}, {'rate', 0, ms left} or {'ok', until, before, ...}.
# The rate counts attempts in a minute-long window that starts with the first of them.
_CLAIM = """
local now = tonumber(ARGV[1])
local memory = tonumber(ARGV[3])
local first = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
for i = 2, #KEYS do
  local last = tonumber(redis.call('HGET', KEYS[i], 'last') or '0')
  local until_ = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if until_ > now and now - last <= memory then
    return {'wait', i - 1, until_ - now}
  end
end
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or '0')
local attempts = 1
if now - window >= 60000 or now < window then
  window = now
  redis.call('HSET', KEYS[1], 'window', window, 'attempts', attempts)
else
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
redis.call('EXPIRE', KEYS[1], 120)
if attempts > tonumber(ARGV[2]) then
  return {'rate', 0, window + 60000 - now}
end
local claims = {'ok'}
for i = 2, #KEYS do
  local last = tonumber(redis.call('HGET', KEYS[i], 'last') or '0')
  local failures = tonumber(redis.call('HGET', KEYS[i], 'failures') or '0')
  local before = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if now - last > memory then
    failures = 0
    before = 0
  end
  failures = failures + 1
  local threshold = tonumber(ARGV[5 + i])
  local until_ = 0
  if failures >= threshold then
    until_ = now + math.floor(math.min(first * 2 ^ math.min(failures - threshold, 32), cap))
  end
  redis.call('HSET', KEYS[i], 'failures', failures, 'last', now, 'until', until_)
  redis.call('EXPIRE', KEYS[i], ARGV[6])
  table.insert(claims, until_)
  table.insert(claims, before)
end
return claims
"""

# KEYS: the scopes an attempt claimed. ARGV: per key, the delay end its claim set and the
# one before. A success takes its claim back; a later claim's delay is left alone.
_UNCLAIM = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], 'failures', -1)
    if tonumber(redis.call('HGET', KEYS[i], 'until') or '0') == tonumber(ARGV[2 * i - 1]) then
      redis.call('HSET', KEYS[i], 'until', ARGV[2 * i])
    end
  end
end
return 0
"""

# KEYS: the device. ARGV: the account, the failures that revoke it. 1 when the device is
# known for the account and this attempt is counted against it; 0 otherwise (and a device
# past its failures is revoked now, so its bursts fall back to the untrusted scopes).
_CLAIM_DEVICE = """
if redis.call('HGET', KEYS[1], 'account') ~= ARGV[1] then return 0 end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 0
end
return 1
"""


def device_signature(secret: str, *, email: str, nonce: str) -> str:
    message = f"candor-login-device:{_account(email)}:{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _device_nonce(secret: str, *, email: str, cookie: str | None) -> str | None:
    """The cookie's nonce when it is signed for this account; None for anything else."""
    if not cookie or len(cookie) > _MAX_DEVICE_COOKIE or cookie.count(".") != 1:
        return None
    nonce, signature = cookie.split(".")
    expected = device_signature(secret, email=email, nonce=nonce)
    return nonce if hmac.compare_digest(expected.encode(), signature.encode()) else None


async def begin(
    redis: Redis,
    *,
    email: str,
    address: str,
    device_cookie: str | None,
    secret: str,
    now: datetime,
) -> Attempt | Throttled:
    """Count this attempt in advance and say whether it may check its password."""
    account = _account(email)
    nonce = _device_nonce(secret, email=email, cookie=device_cookie)
    if nonce is not None:
        claim_device = redis.register_script(_CLAIM_DEVICE)
        known = await claim_device(
            keys=[_device_key(nonce)], args=[account, DEVICE_FAILURES_TO_REVOKE]
        )
        if int(known) == 1:
            return Attempt(account=account, address=address, device=_device_key(nonce), claims=())
    keys = [_pair_key(account, address), _address_key(address), _account_key(account)]
    claim = redis.register_script(_CLAIM)
    answer = await claim(
        keys=[_rate_key(address), *keys],
        args=[
            _ms(now),
            ATTEMPTS_PER_MINUTE,
            _ms_of(FAILURE_MEMORY),
            _ms_of(FIRST_DELAY),
            _ms_of(MAX_DELAY),
            int((FAILURE_MEMORY + MAX_DELAY).total_seconds()),
            *(_THRESHOLDS[scope] for scope in _DELAYED_SCOPES),
        ],
    )
    outcome = str(answer[0])
    if outcome in {"rate", "wait"}:
        scope = Scope.RATE if outcome == "rate" else _DELAYED_SCOPES[int(answer[1]) - 1]
        return Throttled(scope, max(1, math.ceil(int(answer[2]) / 1000)))
    values = [int(v) for v in answer[1:]]
    claims = tuple((key, values[2 * i], values[2 * i + 1]) for i, key in enumerate(keys))
    return Attempt(account=account, address=address, device=None, claims=claims)


async def failed(redis: Redis, attempt: Attempt) -> bool:
    """The password was wrong (already counted); True when that revoked the known device."""
    if attempt.device is None:
        return False
    failures = await redis.hget(attempt.device, "failures")
    if failures is not None and int(failures) >= DEVICE_FAILURES_TO_REVOKE:
        await redis.delete(attempt.device)
        return True
    return False


async def succeeded(redis: Redis, attempt: Attempt, *, email: str, secret: str) -> str:
    """Take the attempt's count back, forget the pair's failures and return the browser's
    new device cookie (a known device's old one is replaced, restarting its lifetime)."""
    if attempt.claims:
        unclaim = redis.register_script(_UNCLAIM)
        await unclaim(
            keys=[key for key, _, _ in attempt.claims],
            args=[value for _, until, before in attempt.claims for value in (until, before)],
        )
    nonce = secrets.token_urlsafe(24)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(_pair_key(attempt.account, attempt.address))
        if attempt.device is not None:
            pipe.delete(attempt.device)
        pipe.hset(_device_key(nonce), mapping={"account": attempt.account, "failures": 0})
        pipe.expire(_device_key(nonce), DEVICE_LIFETIME)
        await pipe.execute()
    return f"{nonce}.{device_signature(secret, email=email, nonce=nonce)}"


async def account_delays(redis: Redis, emails: list[str], *, now: datetime) -> dict[str, int]:
    """The accounts among `emails` whose logins from untrusted clients wait now, with the
    seconds left on each."""
    if not emails:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for email in emails:
            pipe.hget(_account_key(_account(email)), "until")
        ends = await pipe.execute()
    waits = {
        email: math.ceil((int(end) - _ms(now)) / 1000)
        for email, end in zip(emails, ends, strict=True)
        if end is not None
    }
    return {email: seconds for email, seconds in waits.items() if seconds > 0}


async def clear_account(redis: Redis, *, email: str) -> bool:
    """Forget the account's failures and delays, from every address (an address's own
    count stays); True if there was anything to forget."""
    account = _account(email)
    keys = [_account_key(account)]
    keys += [str(key) async for key in redis.scan_iter(match=_pair_key(account, "*"))]
    return bool(await redis.delete(*keys))
