"""How an advance result invites the candidate to pick an interview time, per channel.

The approved text is sent as HR approved it: the invitation is added when the message is
delivered, never by rewriting HR's words, so what HR approved (and the audit log and the
message's transitions record) is exactly the text; the approval inbox says, on an advance
draft of a job that books in Candor, that the invitation will be added.
- e-mail and WeChat: a footer line with the booking link (`/b/<token>`, short enough for
  a WeChat text); a WeChat template message also opens the link when tapped;
- SMS: the provider sends only its approved template, so the link goes where the template's
  SMS form puts the marker `{booking_link}` (a parameter whose text is the marker), or just
  the token where it puts `{booking_token}` (for a provider template that writes the address
  itself: an SMS variable holds at most 35 characters, too few for most full links); a form
  with neither sends the text as approved;
- Telegram and the web chat: a button whose payload starts booking in the chat.

A body (or WeChat field) that carries the marker itself gets the link there instead of a
footer: the template's author chose the place.

The link is a capability like a binding link: whoever has it can book for the application
(`api/routers/booking_links.py` turns it into a single-use web-chat binding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from candor.chat import binding
from candor.chat.binding import IssuedToken
from candor.chat.messages import Button
from candor.models import Application
from candor.models.enums import Channel
from candor.models.scheduling import InvitationState
from candor.scheduling import service as scheduling

LINK_MARKER = "{booking_link}"
TOKEN_MARKER = "{booking_token}"  # noqa: S105 - a marker; SMS parameters only
# What an SMS's token parameter says when there is no open invitation: the link then opens
# the "no longer valid" page (a provider refuses an empty variable).
NO_TOKEN = "closed"  # noqa: S105 - not a secret
# What the chat's booking action answers (the button's payload, and the web chat's first
# message after a booking link).
BOOK_PAYLOAD = "/book_interview"
LINK_PATH = "/b/"

_FOOTER = {
    "zh-CN": "请点击链接选择下一轮面试时间：{link}",
    "en": "Pick a time for your next interview: {link}",
}
_BUTTON = {"zh-CN": "选择面试时间", "en": "Pick an interview time"}


def booking_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{LINK_PATH}{token}"


def _locale(locale: str) -> str:
    return locale if locale in _FOOTER else "zh-CN"


def book_button(locale: str) -> Button:
    return Button(_BUTTON[_locale(locale)], BOOK_PAYLOAD)


@dataclass(frozen=True, slots=True)
class Invited:
    """An approved message's fields with the invitation added for one channel."""

    body: str
    wechat_data: dict[str, str]
    sms_params: dict[str, str]
    buttons: tuple[Button, ...] = ()
    link: str | None = None


def add_invitation(
    *,
    channel: Channel,
    locale: str,
    body: str,
    wechat_data: dict[str, str],
    sms_params: dict[str, str],
    token: str | None,
    public_url: str,
) -> Invited:
    """The fields to send. With `token` None (no open invitation: booked already, closed)
    nothing is added, and a marker becomes the chat page's address (`chat_url`), where the
    candidate can still ask about their interview: an SMS variable may not be empty."""
    chat_url = f"{public_url.rstrip('/')}/chat"
    link = booking_link(public_url, token) if token is not None else None
    value = link or chat_url
    wechat = {name: text.replace(LINK_MARKER, value) for name, text in wechat_data.items()}
    sms = {
        name: text.replace(LINK_MARKER, value).replace(TOKEN_MARKER, token or NO_TOKEN)
        for name, text in sms_params.items()
    }
    if link is None:
        return Invited(body.replace(LINK_MARKER, chat_url), wechat, sms)
    if channel in (Channel.TELEGRAM, Channel.WEB):
        # A button in the chat itself: the candidate is already where booking happens.
        return Invited(
            body.replace(LINK_MARKER, "").rstrip(), wechat, sms, (book_button(locale),), link
        )
    if LINK_MARKER in body:
        text = body.replace(LINK_MARKER, link)
    elif channel is Channel.SMS:
        text = body  # the provider's template is the text: see `sms_params`
    else:
        text = f"{body.rstrip()}\n\n{_FOOTER[_locale(locale)].format(link=link)}"
    return Invited(text, wechat, sms, (), link)


# How long the web-chat binding a booking link mints stays usable: the page redeems it at
# once; a link preview that followed the redirect leaves only a token that soon lapses.
BINDING_VALID_FOR = timedelta(minutes=30)


async def binding_for_link(
    session: AsyncSession, token: str, *, now: datetime
) -> IssuedToken | None:
    """A booking link's way into the web chat: a single-use binding token for the
    invitation's application (`candor.chat.binding`). None for a token that is unknown or
    whose invitation closed: the caller shows the same page for both, revealing nothing."""
    invitation = await scheduling.invitation_by_token(session, token)
    if invitation is None or invitation.state is InvitationState.CLOSED:
        return None
    application = await session.get_one(Application, invitation.application_id)
    return await binding.issue_token(
        session,
        application,
        Channel.WEB,
        actor="booking-link",
        now=now,
        valid_for=BINDING_VALID_FOR,
    )
