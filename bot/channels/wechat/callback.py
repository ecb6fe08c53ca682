"""The WeChat callback: authenticate, open, parse, de-duplicate, answer.

The order matters for "bad input writes nothing": the signature, the timestamp, the XML and
the message are all checked before anything is written to Redis (the nonce, the inbound
de-duplication key, the service window).

Answers: the conversation gets `reply_budget_seconds` (3.5 s; WeChat gives up at 5 s and
retries). In time, the answer goes back as the passive reply in the HTTP response (sealed
with the key that opened the request in safe mode). Late, the callback acknowledges with
`success` once the gateway has committed the message (`bot.gateway.message_recorded`; it
waits up to `RECORD_WAIT_SECONDS` more for that, not for the answer), and the answer follows
as a customer-service message once the gateway returns; the gateway returns only after its
own transaction has committed. A message not recorded by then is not acknowledged (503,
its claim released): WeChat's retry brings it back, and the gateway's own idempotency per
provider message id keeps the first attempt, should it still finish, from counting twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.envelope import (
    BadSignatureError,
    EncryptionRequiredError,
    Envelope,
    MalformedRequestError,
    PayloadTooLargeError,
    SignedQuery,
    check_fresh,
    verify_signature,
)
from bot.channels.wechat.messages import (
    ParsedCallback,
    encrypted_part,
    parse_callback,
    render_passive_reply,
    reply_text,
    safe_xml,
)
from bot.channels.wechat.state import ANSWERED_PREFIX, LATER, WeChatState, WindowChange
from bot.gateway import Gateway, notify_recorded
from candor.chat.messages import InboundMessage, Reply
from candor.logging import get_logger
from candor.privacy.links import mask_export_links

log = get_logger(__name__)

SUCCESS = "success"  # WeChat's "received, no passive reply"
MAX_BODY_BYTES = 64 * 1024
LATE_ANSWER_GRACE_SECONDS = 30.0
GATEWAY_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)  # after a failed gateway call; then given up
# Conversations one process works on at once, answered or late. Beyond this the callback
# says 503 before recording anything: an acknowledged message must not wait in an
# ever-growing in-memory queue (and be lost with it on shutdown) when the conversation
# cannot keep up; WeChat's own retry brings it back.
MAX_CONVERSATIONS_IN_FLIGHT = 64
# After the reply budget, how long `success` may wait for the message to be committed
# (3.5 + 1.0 s stays inside WeChat's 5 s).
RECORD_WAIT_SECONDS = 1.0


class CallbackUnavailableError(Exception):
    """We cannot take this callback now (503); WeChat's retry may succeed."""


class GatewayFailedError(CallbackUnavailableError):
    """The conversation failed on this message, every time it was tried."""


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    body: str
    is_xml: bool


class WeChatCallback:
    def __init__(
        self,
        config: WeChatConfig,
        state: WeChatState,
        api: WeChatApi,
        *,
        clock: Callable[[], float] = time.time,
        retry_delays: tuple[float, ...] = GATEWAY_RETRY_DELAYS,
        max_in_flight: int = MAX_CONVERSATIONS_IN_FLIGHT,
        record_wait: float = RECORD_WAIT_SECONDS,
    ) -> None:
        self._retry_delays = retry_delays
        self._record_wait = record_wait
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._config = config
        self._state = state
        self._api = api
        self._clock = clock
        self._envelope = (
            Envelope(config.token, config.app_id, config.aes_keys) if config.aes_keys else None
        )
        self._late: set[asyncio.Task[None]] = set()

    async def verify_url(self, query: SignedQuery, echostr: str) -> str:
        """The GET WeChat sends when the callback URL is saved: echo `echostr` if signed.

        Its nonce is used up like a message's: its query string may be logged, and its
        `signature` is exactly what a plaintext message carries.
        """
        verify_signature(self._config.token, query)
        check_fresh(query.timestamp, now=self._clock())
        try:
            await self._state.use_nonce_for_url_verification(
                timestamp=query.timestamp, nonce=query.nonce
            )
        except RedisError as exc:
            # An unrecorded nonce could be used again: refuse, the admin can save again.
            log.warning("wechat.redis_unavailable", error=repr(exc))
            raise CallbackUnavailableError("cannot record this verification now") from exc
        return echostr

    async def receive(self, query: SignedQuery, body: bytes, gateway: Gateway) -> CallbackAnswer:
        verify_signature(self._config.token, query)
        now = self._clock()
        check_fresh(query.timestamp, now=now)
        if not query.encrypted and not self._config.accepts_plaintext:
            raise EncryptionRequiredError("safe mode accepts only encrypted messages")
        if len(body) > MAX_BODY_BYTES:  # the router stops reading earlier; this is the rule
            raise PayloadTooLargeError("the body is larger than 64 KiB")
        root = safe_xml(body)
        key_index: int | None = None
        if query.encrypted:
            if self._envelope is None or not self._config.accepts_encrypted:
                raise MalformedRequestError("encrypted callback, but no EncodingAESKey is set")
            if not query.msg_signature:
                raise BadSignatureError("an encrypted callback needs msg_signature")
            opened = self._envelope.open(
                encrypted_part(root),
                msg_signature=query.msg_signature,
                timestamp=query.timestamp,
                nonce=query.nonce,
            )
            xml, key_index = opened.xml, opened.key_index
        else:
            try:
                xml = body.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedRequestError("the body is not UTF-8") from None
        parsed = parse_callback(xml)

        message = parsed.message
        if message is not None and self._in_flight >= self._max_in_flight:
            log.warning("wechat.overloaded", in_flight=self._in_flight)
            raise CallbackUnavailableError("too many conversations in progress; retry later")
        if message is not None and message.event == "unsubscribe":
            window = WindowChange.CLOSE
        else:
            window = WindowChange.OPEN if parsed.opens_window else WindowChange.KEEP
        try:
            earlier = await self._state.arrive(
                timestamp=query.timestamp,
                nonce=query.nonce,
                body_digest=hashlib.sha256(body).hexdigest(),
                dedupe_key=parsed.dedupe_key,
                openid=parsed.openid,
                window=window,
                now=int(now),
            )
        except RedisError as exc:
            # Without the de-duplication claim a retry could be processed twice; refuse
            # (nothing acknowledged, nothing lost) and let WeChat try again.
            log.warning("wechat.redis_unavailable", error=repr(exc))
            raise CallbackUnavailableError("cannot record this callback now") from exc
        if earlier is not None:
            log.info("wechat.duplicate_callback", state=earlier.partition(":")[0])
            if earlier.startswith(ANSWERED_PREFIX):
                text = earlier.removeprefix(ANSWERED_PREFIX)
                return self._passive(parsed, text, query, key_index)
            return CallbackAnswer(SUCCESS, is_xml=False)
        if message is None:
            await self._record(parsed.dedupe_key, ANSWERED_PREFIX)
            return CallbackAnswer(SUCCESS, is_xml=False)

        recorded = asyncio.Event()
        handling = asyncio.create_task(self._handle(gateway, message, recorded))
        self._in_flight += 1
        handling.add_done_callback(self._finished)
        try:
            done, _ = await asyncio.wait({handling}, timeout=self._config.reply_budget_seconds)
            if not done:
                log.info("wechat.reply_budget_exceeded", budget=self._config.reply_budget_seconds)
                # `success` only for a message that is committed: wait for that (not for
                # the answer), or for the conversation to end.
                waiting = asyncio.create_task(recorded.wait())
                try:
                    await asyncio.wait(
                        {handling, waiting},
                        timeout=self._record_wait,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    waiting.cancel()
        except asyncio.CancelledError:
            # The client went away: the conversation still finishes and answers later.
            await self._answer_later(handling, parsed)
            raise
        if not handling.done():
            if not recorded.is_set():
                # Nothing durable to acknowledge: WeChat's retry brings the message back
                # (this attempt, should it still commit, is one the gateway recognises).
                log.warning("wechat.not_recorded_in_time")
                await self._answer_later(handling, parsed, claimed=False)
                with contextlib.suppress(RedisError):
                    await self._state.release_inbound(parsed.dedupe_key)
                raise CallbackUnavailableError("the message is not recorded yet; retry later")
            await self._answer_later(handling, parsed)
            return CallbackAnswer(SUCCESS, is_xml=False)
        try:
            replies = handling.result()
        except GatewayFailedError:
            await self._state.release_inbound(parsed.dedupe_key)
            raise
        text = reply_text(replies)
        # The retry's copy is kept in Redis: a data-export link in it is masked there (as
        # in the transcript), so only this answer carries the usable link.
        await self._record(parsed.dedupe_key, ANSWERED_PREFIX + mask_export_links(text))
        return self._passive(parsed, text, query, key_index)

    async def _record(self, dedupe_key: str, outcome: str) -> None:
        """What a retry of this message should get. Best effort: the message is taken
        either way, and a retry that finds no outcome is acknowledged with `success`."""
        try:
            await self._state.complete_inbound(dedupe_key, outcome)
        except RedisError as exc:
            log.warning("wechat.redis_unavailable", error=repr(exc))

    def _passive(
        self, parsed: ParsedCallback, text: str, query: SignedQuery, key_index: int | None
    ) -> CallbackAnswer:
        if not text:
            return CallbackAnswer(SUCCESS, is_xml=False)
        now = str(int(self._clock()))
        xml = render_passive_reply(
            openid=parsed.openid, account=parsed.account, text=text, now=int(now)
        )
        if key_index is not None and self._envelope is not None:
            xml = self._envelope.seal(xml, key_index=key_index, timestamp=now, nonce=query.nonce)
        return CallbackAnswer(xml, is_xml=True)

    def _finished(self, _task: asyncio.Task[list[Reply]]) -> None:
        self._in_flight -= 1

    async def _handle(
        self, gateway: Gateway, message: InboundMessage, recorded: asyncio.Event
    ) -> list[Reply]:
        """The gateway's answer, trying again after a failure (a locked database, a Redis
        hiccup): once the callback has said `success`, WeChat will not send it again.
        The gateway is idempotent per provider message id, so a retry after a failure
        that did commit part of the work does not record the message twice. `recorded`
        is set when the gateway says the message is committed (this task's context)."""
        with notify_recorded(recorded.set):
            for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    return await gateway.handle(message)
                except Exception:
                    log.warning("wechat.gateway_failed", attempt=attempt, exc_info=True)
        raise GatewayFailedError("the conversation could not take this message")

    async def _answer_later(
        self, handling: asyncio.Task[list[Reply]], parsed: ParsedCallback, *, claimed: bool = True
    ) -> None:
        """Send the answer when the conversation returns; `claimed`: a retry of this message
        is told it is taken (otherwise its claim is about to be released)."""
        if claimed:
            await self._record(parsed.dedupe_key, LATER)
        task = asyncio.create_task(self._send_late_answer(handling, parsed))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def _send_late_answer(
        self, handling: asyncio.Task[list[Reply]], parsed: ParsedCallback
    ) -> None:
        openid = parsed.openid
        try:
            replies = await handling
        except GatewayFailedError:
            # Every try failed. Forget the message so that a retry WeChat may still send is
            # processed; the failures are logged above.
            # The key names no one: an event's key would carry the openid (personal data).
            log.error("wechat.message_dropped", kind=parsed.dedupe_key.partition(":")[0])
            with contextlib.suppress(RedisError):
                await self._state.release_inbound(parsed.dedupe_key)
            return
        text = reply_text(replies)
        if not text:
            return
        try:
            if not await self._state.take_window_slot(openid):
                log.warning("wechat.late_reply_window_closed")
                return
            try:
                await self._api.send_custom_text(openid, text)
            except Exception:
                await self._state.return_window_slot(openid)
                raise
        except Exception as exc:  # an API refusal, a transport or Redis error: logged
            # Only the type and WeChat's code: an httpx error's text holds the URL, and with
            # it the access_token.
            log.error(
                "wechat.late_reply_failed",
                error=type(exc).__name__,
                errcode=getattr(exc, "errcode", None),
            )
            return
        log.info("wechat.late_reply_sent")

    async def aclose(self) -> None:
        """Let late answers finish (bounded), then cancel what is left."""
        if not self._late:
            return
        _, pending = await asyncio.wait(set(self._late), timeout=LATE_ANSWER_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def late_answers_in_flight(self) -> int:
        return len(self._late)
