"""One inbound chat message, channel-independent: identity, transcript, binding, opt-out,
preferences; everything else is the dialogue engine's (see `candor.chat.engine`).

Messages of accounts not bound to a candidate, code requests and typed codes are rate-limited
per chat account, per client address (web chat) and overall (`candor.chat.limits`); past a
limit the answer is a polite "try again in N minutes" that says nothing about applications.

`receive` runs in the caller's transaction and never commits or sends. It returns the
replies it decided, or a `Turn` for the engine (`bot.conversation.ConversationGateway`
commits, then asks the engine); a one-time code's e-mail is queued in the same transaction
for the delivery loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat import binding, commands, consent, limits, teams, transcript
from candor.chat.binding import BindResult
from candor.chat.engine import Turn
from candor.chat.language import message_language
from candor.chat.messages import InboundMessage, Reply
from candor.chat.privacy_notice import PrivacyNotice, load_notice, take_due_notice
from candor.chat.texts import text
from candor.delivery.sms_numbers import mobile_or_none
from candor.logging import get_logger
from candor.models import Candidate, ChatIdentity, Job
from candor.models.enums import Channel, Locale
from candor.models.webhooks import WebhookEventType
from candor.privacy.queries import is_hidden
from candor.webhooks import events as webhook_events

log = get_logger(__name__)

SYSTEM_AUTHOR = "system:chat"
# Events that carry a binding token in `event_key`.
BINDING_EVENTS = frozenset({"start", "subscribe", "scan"})


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """What the chat service needs from the settings."""

    secret: str  # keys the one-time codes' hashes
    # The privacy notice shown once per version to each bound candidate.
    notice: PrivacyNotice = field(default_factory=load_notice)


@dataclass(slots=True)
class Received:
    conversation_id: int | None = None
    inbound_id: int | None = None
    duplicate: bool = False
    replies: list[Reply] = field(default_factory=list)
    engine_turn: Turn | None = None


async def receive(
    session: AsyncSession,
    message: InboundMessage,
    policy: ChatPolicy,
    *,
    redis: Redis,
    now: datetime,
) -> Received:
    thread, inbound_id = await transcript.open_thread_with_inbound(
        session,
        message.channel,
        message.external_user_id,
        text=message.text,
        event=message.event,
        payload={"event_key": _safe_key(message)} if message.event_key else None,
        provider_message_id=message.provider_message_id,
        at=message.received_at,
    )
    identity, conversation = thread.identity, thread.conversation
    redelivered = inbound_id is None
    if inbound_id is None:
        # Recorded before: a provider's redelivery. Answer it only if nothing did (the
        # engine failed after the message was recorded); otherwise it is a true duplicate.
        assert message.provider_message_id is not None  # NULL ids never collide
        inbound_id = await transcript.unanswered_inbound(
            session, message.channel, message.provider_message_id
        )
        if inbound_id is None:
            log.info("chat.duplicate_inbound", channel=message.channel.value)
            return Received(conversation.id, duplicate=True)
        log.info("chat.unanswered_redelivery", channel=message.channel.value)
    outcome = Received(conversation.id, inbound_id=inbound_id)
    await _decide(
        session, message, identity, thread.candidate, outcome, policy, redis=redis, now=now
    )
    if outcome.engine_turn is not None and message.text and not redelivered:
        # A redelivery answered again is the same message: the ATS heard of it already.
        await _record_reply(session, outcome.engine_turn, message)
    if outcome.engine_turn is None and outcome.replies:
        await _with_notice(session, identity, outcome, policy, now=now)
        conversation.last_message_at = now
        for reply in outcome.replies:
            transcript.record_outbound(
                session,
                conversation_id=conversation.id,
                channel=conversation.channel,
                # Binding may have changed whom the conversation belongs to.
                candidate_id=identity.candidate_id if identity.bound_at else None,
                text=reply.text,
                author=SYSTEM_AUTHOR,
                at=now,
                reply_to=inbound_id,
                buttons=[(b.title, b.payload) for b in reply.buttons],
            )
    return outcome


async def _with_notice(
    session: AsyncSession,
    identity: ChatIdentity,
    outcome: Received,
    policy: ChatPolicy,
    *,
    now: datetime,
) -> None:
    """A candidate bound now (or earlier) who has not seen the current privacy notice gets it
    in the same message as Candor's answer: the binding confirmation, mostly."""
    if identity.bound_at is None or identity.candidate_id is None:
        return
    candidate = await session.get_one(Candidate, identity.candidate_id)
    notice = await take_due_notice(
        session,
        policy.notice,
        candidate_id=candidate.id,
        channel=identity.channel,
        locale=candidate.locale,
        now=now,
    )
    if notice is not None:
        last = outcome.replies[-1]
        outcome.replies[-1] = Reply(f"{last.text}\n\n{notice}", last.buttons)


async def notice_after_turn(
    session: AsyncSession, turn: Turn, policy: ChatPolicy, *, now: datetime
) -> Reply | None:
    """The privacy notice as its own message after the engine's answer, for a bound
    candidate who has not seen its current version (bound in the dialogue's binding form
    or before the notice existed, or the version changed); None when they have. Called in
    the engine's transaction, so it is recorded as shown only if the answer is."""
    notice = await take_due_notice(
        session,
        policy.notice,
        candidate_id=turn.candidate_id,
        channel=turn.channel,
        locale=message_language(turn.text) or turn.locale,
        now=now,
    )
    return Reply(notice) if notice is not None else None


async def _record_reply(session: AsyncSession, turn: Turn, message: InboundMessage) -> None:
    """A bound candidate's message reaches the ATS (`candidate.replied`), with the
    application the conversation concerns."""
    await webhook_events.record_for_candidate(
        session,
        WebhookEventType.CANDIDATE_REPLIED,
        turn.candidate_id,
        await teams.application_of_conversation(session, turn.conversation_id),
        {
            "channel": turn.channel.value,
            "chat_message_id": turn.inbound_message_id,
            "text": message.text,
            "received_at": webhook_events.iso_utc(message.received_at),
        },
        now=message.received_at,
    )


def _safe_key(message: InboundMessage) -> str | None:
    """Binding tokens are secrets: the transcript keeps button payloads, not tokens."""
    if message.event in BINDING_EVENTS:
        return "<binding token>"
    return message.event_key


async def _decide(
    session: AsyncSession,
    message: InboundMessage,
    identity: ChatIdentity,
    candidate: Candidate | None,
    outcome: Received,
    policy: ChatPolicy,
    *,
    redis: Redis,
    now: datetime,
) -> None:
    locale = candidate.locale if candidate is not None else None
    say = outcome.replies.append

    if message.event == "unsubscribe":
        # The account unfollowed: it cannot be reached, and is not told so.
        await binding.set_opt_out(session, identity, opted_out=True, via="unsubscribe", now=now)
        return
    clients = _clients(message)
    if candidate is None:
        limited = await _limit(
            redis,
            clients,
            limits.ANON_MESSAGES_PER_ACCOUNT,
            limits.ANON_MESSAGES_PER_ADDRESS,
            limits.ANON_MESSAGES_OVERALL,
            now=now,
        )
        if limited is not None:
            say(_slow_down(limited))
            return
    if message.event in BINDING_EVENTS:
        token = binding.token_from_event_key(message.event_key or "")
        if token is not None:
            result = await binding.redeem_token(session, identity, token, now=now)
            if result is None:
                say(Reply(text("bind_link_invalid", locale)))
            else:
                say(await _bound_reply(session, result))
            return
        if message.event == "start" and identity.opted_out_at is not None:
            await binding.set_opt_out(session, identity, opted_out=False, via="start", now=now)
            say(Reply(text("opted_in", locale, channel=identity.channel)))
            return
        say(
            Reply(
                text("already_bound", locale)
                if candidate is not None
                else text("bind_instructions", None)
            )
        )
        return

    command = commands.parse_command(message.text) if message.text else None
    match command:
        case commands.OptOut():
            await binding.set_opt_out(session, identity, opted_out=True, via="keyword", now=now)
            say(Reply(text("opted_out", locale, channel=identity.channel)))
            return
        case commands.OptIn():
            await binding.set_opt_out(session, identity, opted_out=False, via="keyword", now=now)
            if candidate is not None:
                consent.resume_proactive(session, candidate, identity, now=now)
            say(Reply(text("opted_in", locale, channel=identity.channel)))
            return
        case commands.Unbind() if candidate is not None:
            await binding.unbind(session, identity, actor="candidate", via="command", now=now)
            say(Reply(text("unbound", locale)))
            return

    if candidate is None:
        match command:
            case commands.BindRequest(contact=None):
                say(Reply(text("bind_needs_contact", None)))
            case commands.BindRequest(application_code=code, contact=str(contact)):
                limited = await _limit(
                    redis,
                    clients,
                    limits.CODE_REQUESTS_PER_ACCOUNT,
                    limits.CODE_REQUESTS_PER_ADDRESS,
                    limits.CODE_REQUESTS_OVERALL,
                    now=now,
                )
                if limited is not None:
                    say(_slow_down(limited))
                    return
                await binding.request_code(  # queues the e-mail with the code's hash
                    session, identity, code, contact, redis=redis, secret=policy.secret, now=now
                )
                # The same answer whatever happened: nobody learns whether the code exists.
                say(Reply(text("code_sent", None)))
            case commands.OneTimeCode(code=code, application_code=application_code):
                limited = await _limit(
                    redis,
                    clients,
                    limits.CODE_GUESSES_PER_ACCOUNT,
                    limits.CODE_GUESSES_PER_ADDRESS,
                    limits.CODE_GUESSES_OVERALL,
                    now=now,
                )
                if limited is not None:
                    say(_slow_down(limited))
                    return
                result = await binding.verify_code(
                    session,
                    identity,
                    code,
                    application_code=application_code,
                    redis=redis,
                    secret=policy.secret,
                    now=now,
                )
                say(
                    Reply(text("code_rejected", None))
                    if result is None
                    else await _bound_reply(session, result)
                )
            case _:
                say(Reply(text("bind_instructions", None)))
        return

    if isinstance(command, commands.PreferChannel):
        say(await _prefer(session, identity, candidate, command.channel, now=now))
        return
    assert outcome.conversation_id is not None
    assert outcome.inbound_id is not None
    outcome.engine_turn = Turn(
        conversation_id=outcome.conversation_id,
        inbound_message_id=outcome.inbound_id,
        chat_identity_id=identity.id,
        candidate_id=candidate.id,
        channel=identity.channel,
        locale=candidate.locale,
        received_at=message.received_at,
        text=message.text,
        event=message.event,
        event_key=message.event_key,
    )


@dataclass(frozen=True, slots=True)
class _Clients:
    """Who a message counts against: its chat account, and its address if it has one."""

    account: str
    address: str | None


def _clients(message: InboundMessage) -> _Clients:
    account = limits.subject(message.channel.value, message.external_user_id)
    address = message.client_address
    return _Clients(account, limits.subject("address", address) if address else None)


async def _limit(
    redis: Redis,
    clients: _Clients,
    per_account: limits.Limit,
    per_address: limits.Limit,
    overall: limits.Limit,
    *,
    now: datetime,
) -> limits.Limited | None:
    checks = [(per_account, clients.account)]
    if clients.address is not None:
        checks.append((per_address, clients.address))
    checks.append((overall, limits.OVERALL))
    limited = await limits.hit(redis, *checks, now=now)
    if limited is not None:
        log.warning("chat.rate_limited", limit=limited.limit.name)
    return limited


def _slow_down(limited: limits.Limited) -> Reply:
    # Both languages: only anonymous accounts are limited, and they have no locale yet.
    return Reply(text("slow_down", None, minutes=str(limited.retry_after_minutes)))


async def _bound_reply(session: AsyncSession, result: BindResult) -> Reply:
    candidate = await session.get_one(Candidate, result.application.candidate_id)
    job = await session.get_one(Job, result.application.job_id)
    return Reply(text("bound", candidate.locale, code=result.application.code, job=job.title))


# Reached at the candidate's address or number on file: nothing to bind first.
_CHANNELS_WITHOUT_ACCOUNTS = frozenset({Channel.EMAIL, Channel.SMS})


async def _prefer(
    session: AsyncSession,
    identity: ChatIdentity,
    candidate: Candidate,
    channel: Channel,
    *,
    now: datetime,
) -> Reply:
    locale: Locale = candidate.locale
    if channel is Channel.EMAIL and not candidate.email:
        return Reply(text("preference_no_email", locale))
    if channel is Channel.SMS and mobile_or_none(candidate.mobile) is None:
        return Reply(text("preference_no_mobile", locale))
    before = list(candidate.preferred_channels)
    candidate.preferred_channels = [channel.value, *(c for c in before if c != channel.value)]
    binding.record_preference(session, identity, candidate, before, now=now)
    log.info("chat.preference_changed", candidate_id=candidate.id, channel=channel.value)
    if channel is Channel.SMS:
        # Asking for texts in chat is their own word, as the TD that stopped them was.
        consent.resume_sms(session, candidate, identity, now=now)
    if channel in _CHANNELS_WITHOUT_ACCOUNTS:
        return Reply(text("preference_saved", locale, channel=channel))
    if not await _has_bound(session, candidate, channel):
        return Reply(text("preference_unbound_channel", locale, channel=channel))
    return Reply(text("preference_saved", locale, channel=channel))


async def _has_bound(session: AsyncSession, candidate: Candidate, channel: Channel) -> bool:
    found = await session.scalar(
        select(ChatIdentity.id).where(
            ChatIdentity.candidate_id == candidate.id,
            ChatIdentity.channel == channel,
            ChatIdentity.bound_at.is_not(None),
        )
    )
    return found is not None


async def turn_still_bound(session: AsyncSession, turn: Turn) -> bool:
    """Whether the turn's account is still bound to its candidate, who is not being erased:
    read under a lock on the account, which the erasure's first step takes too, so an answer
    either commits before the erasure begins (and is erased with the rest) or sees it
    (candor.privacy.erasure.start)."""
    bound_to = await session.scalar(
        select(ChatIdentity.candidate_id)
        .where(ChatIdentity.id == turn.chat_identity_id)
        .with_for_update()
    )
    if bound_to is None:
        # Unbound during the turn (the erasure unbinds first): only a turn that began
        # unbound stands.
        return turn.candidate_id is None
    # The turn may bind or rebind the account itself (the dialogue's binding form); it is
    # dropped when either candidate is being erased.
    for candidate_id in {turn.candidate_id, bound_to} - {None}:
        if candidate_id is not None and await is_hidden(session, candidate_id):
            return False
    return True
