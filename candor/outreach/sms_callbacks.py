"""What SMS providers push back: the candidate's replies (uplink) and delivery receipts.

Both providers push JSON over HTTP (see docs/channels.md for the exact shapes):

- Alibaba (HTTP batch push, 批量推送): SmsUp, an array of replies (`phone_number`,
  `content`, ...), and SmsReport, an array of receipts (`biz_id`, `success`, `err_code`, ...).
  The receiver answers `{"code": 0, "msg": ...}`.
- Tencent: the reply callback, one object (`nationcode`, `mobile`, `text`, `sign`, `time`),
  and the status callback, an array (`sid`, `report_status` SUCCESS / FAIL, `errmsg`, ...).
  The receiver answers `{"result": 0, "errmsg": "OK"}`.

Neither provider signs these requests, so the route checks a secret token in the callback URL
and, optionally, the caller's address (api/routers/sms.py, docs/security.md).

A reply that says TD / 退订 (or T, N, STOP, unsubscribe) opts that number out of SMS; other
replies are logged and dropped (a reply to a result SMS is not a conversation Candor can
answer: SMS is one-way here). A receipt settles the outbox row whose provider message id it
names (Alibaba's BizId, Tencent's SerialNo, as the senders record them); a receipt for an id
Candor never sent is acknowledged and ignored, so the provider stops retrying.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat.commands import normalise_phone
from candor.chat.consent import stop_sms
from candor.clock import utcnow
from candor.errors import CandorError
from candor.logging import get_logger
from candor.models import OutboxItem
from candor.models.enums import Channel
from candor.outreach.dispatcher import record_receipt
from candor.outreach.service import QuietHours

log = get_logger(__name__)

MAX_ITEMS = 1000  # both providers batch "several" items; far more is no real push
CHINA = "86"
# Alibaba documents TD, T and N as the unsubscribe replies (退订回复); 退订 is what people type,
# and STOP / unsubscribe what candidates used to other countries' SMS do.
OPT_OUT_WORDS = frozenset({"td", "t", "n", "退订", "stop", "unsubscribe"})
# Around the word: whitespace and punctuation in either width ("TD。", " 退订! ").
_TRIM = " \t\r\n.,!?;:~。，！？；：～、"


class SmsProvider(StrEnum):
    ALIBABA = "alibaba"
    TENCENT = "tencent"


class InvalidSmsCallbackError(CandorError):
    code = "invalid_sms_callback"
    http_status = 400


@dataclass(frozen=True, slots=True)
class SmsReply:
    country_code: str
    national_number: str
    text: str


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    provider_message_id: str
    delivered: bool
    reason: str | None


class _Item(BaseModel):
    # Providers add fields over time: what is not read is not refused.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _AlibabaUp(_Item):
    phone_number: str = Field(min_length=1, max_length=32)
    content: str = Field(max_length=2000)
    send_time: str | None = None
    sign_name: str | None = None
    dest_code: str | None = None
    sequence_id: int | str | None = None


class _AlibabaReport(_Item):
    biz_id: str = Field(min_length=1, max_length=200)
    success: bool
    err_code: str | None = None
    err_msg: str | None = None
    phone_number: str | None = None
    report_time: str | None = None


class _TencentReply(_Item):
    mobile: str = Field(min_length=1, max_length=32)
    nationcode: str = Field(default=CHINA, max_length=8)
    text: str = Field(max_length=2000)
    sign: str | None = None
    time: int | None = None
    extend: str | None = None


class _TencentStatus(_Item):
    sid: str = Field(min_length=1, max_length=200)
    report_status: Literal["SUCCESS", "FAIL"]
    errmsg: str | None = None
    description: str | None = None
    mobile: str | None = None


_ALIBABA_UP = TypeAdapter(list[_AlibabaUp])
_ALIBABA_REPORTS = TypeAdapter(list[_AlibabaReport])
_TENCENT_REPLIES = TypeAdapter(list[_TencentReply])
_TENCENT_STATUSES = TypeAdapter(list[_TencentStatus])


def _items(adapter: TypeAdapter[list[Any]], data: Any, what: str, *, single: bool) -> list[Any]:
    if single and isinstance(data, dict):
        data = [data]  # Tencent's reply callback sends one object
    if not isinstance(data, list):
        raise InvalidSmsCallbackError(f"{what}: expected a JSON array")
    if len(data) > MAX_ITEMS:
        raise InvalidSmsCallbackError(f"{what}: more than {MAX_ITEMS} items")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
        raise InvalidSmsCallbackError(
            f"{what}: not the provider's shape", details=problems
        ) from exc


def parse_replies(provider: SmsProvider, data: Any) -> list[SmsReply]:
    if provider is SmsProvider.ALIBABA:
        return [
            # Alibaba reports mainland numbers, usually without the country code.
            SmsReply(CHINA, _national(CHINA, item.phone_number), item.content)
            for item in _items(_ALIBABA_UP, data, "SmsUp", single=False)
        ]
    return [
        SmsReply(cc := _digits(item.nationcode) or CHINA, _national(cc, item.mobile), item.text)
        for item in _items(_TENCENT_REPLIES, data, "reply callback", single=True)
    ]


def parse_receipts(provider: SmsProvider, data: Any) -> list[SmsReceipt]:
    if provider is SmsProvider.ALIBABA:
        return [
            SmsReceipt(
                item.biz_id,
                item.success,
                None if item.success else f"{item.err_code}: {item.err_msg}",
            )
            for item in _items(_ALIBABA_REPORTS, data, "SmsReport", single=False)
        ]
    return [
        SmsReceipt(
            item.sid,
            item.report_status == "SUCCESS",
            None if item.report_status == "SUCCESS" else f"{item.errmsg}: {item.description}",
        )
        for item in _items(_TENCENT_STATUSES, data, "status callback", single=False)
    ]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _national(country_code: str, number: str) -> str:
    """A mainland number as the chat's phone matching writes it (no +86 / 0086); others as
    digits."""
    return normalise_phone(number) if country_code == CHINA else _digits(number)


def mobile_forms(country_code: str, national_number: str) -> set[str]:
    """The digit-only forms of the number an ATS may have written in `Candidate.mobile`."""
    cc, n = country_code, national_number
    forms = {f"{cc}{n}", f"00{cc}{n}"}
    if cc == CHINA:
        forms.add(n)  # mainland numbers are usually written without the country code
    return forms


def is_opt_out(text: str) -> bool:
    """TD, 退订 and the like, in either width and any case, alone in the reply."""
    word = unicodedata.normalize("NFKC", text).strip(_TRIM).casefold()
    return word in OPT_OUT_WORDS


@dataclass(frozen=True, slots=True)
class RepliesHandled:
    replies: int
    opted_out: list[int]  # candidate ids opted out by this push (none when replayed)


async def handle_replies(
    session: AsyncSession, provider: SmsProvider, replies: Sequence[SmsReply]
) -> RepliesHandled:
    now = utcnow()
    opted_out: list[int] = []
    for reply in replies:
        if not reply.national_number:
            continue
        if is_opt_out(reply.text):
            opted_out += await stop_sms(
                session,
                mobile_forms(reply.country_code, reply.national_number),
                provider=provider.value,
                now=now,
            )
        else:
            # No conversation runs over SMS: the reply is noted, not answered.
            log.info("sms.reply_ignored", provider=provider.value, chars=len(reply.text))
    return RepliesHandled(replies=len(replies), opted_out=opted_out)


@dataclass(frozen=True, slots=True)
class ReceiptsHandled:
    settled: int
    unknown: int


async def handle_receipts(
    session: AsyncSession,
    provider: SmsProvider,
    receipts: Sequence[SmsReceipt],
    quiet_hours: QuietHours,
) -> ReceiptsHandled:
    settled = unknown = 0
    for receipt in await _in_message_order(session, receipts):
        message = await record_receipt(
            session,
            provider_message_id=receipt.provider_message_id,
            delivered=receipt.delivered,
            reason=f"{provider.value}: {receipt.reason}" if receipt.reason else None,
            channel=Channel.SMS,
            quiet_hours=quiet_hours,
        )
        if message is None:
            unknown += 1
            log.info(
                "sms.receipt_unknown",
                provider=provider.value,
                provider_message_id=receipt.provider_message_id,
            )
        else:
            settled += 1
    return ReceiptsHandled(settled=settled, unknown=unknown)


async def _in_message_order(
    session: AsyncSession, receipts: Sequence[SmsReceipt]
) -> list[SmsReceipt]:
    """The receipts in the order of the messages they settle, which each locks: the order
    the dispatcher locks them in, so two pushes (or a push and the dispatcher) never wait
    for each other's locks in a cycle. Receipts of one message keep the provider's order."""
    ids = {receipt.provider_message_id for receipt in receipts}
    rows = await session.execute(
        select(OutboxItem.provider_message_id, OutboxItem.message_id).where(
            OutboxItem.channel == Channel.SMS, OutboxItem.provider_message_id.in_(ids)
        )
    )
    message_of = dict(rows.all())
    return sorted(receipts, key=lambda receipt: message_of.get(receipt.provider_message_id, 0))


async def accept_replies(session: AsyncSession, provider: SmsProvider, data: Any) -> RepliesHandled:
    """One reply push as the provider posted it: InvalidSmsCallbackError, and nothing
    applied, unless all of it has the documented shape."""
    return await handle_replies(session, provider, parse_replies(provider, data))


async def accept_receipts(
    session: AsyncSession, provider: SmsProvider, data: Any, quiet_hours: QuietHours
) -> ReceiptsHandled:
    """One receipt push, all or nothing like `accept_replies`."""
    return await handle_receipts(session, provider, parse_receipts(provider, data), quiet_hours)
