"""Exact lookups of sealed values. `sealed_column == value` already goes through the blind
index (`candor.crypto.fields.SealedText`); this module adds the index values for writes
that bypass the ORM and the conditions the code shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Text, and_, false, or_, type_coerce

from candor.crypto.fields import blind_index, current_keyring, email_key, exact_key, phone_key

if TYPE_CHECKING:
    from candor.models.enums import Channel

__all__ = [
    "chat_id_index",
    "email_index",
    "has_chat_id",
    "has_email",
    "has_mobile",
    "index_on_insert",
    "mobile_index",
    "recipient_index",
    "stored",
]

MOBILE = "candidates.mobile"
EMAIL = "candidates.email"
CHAT_ID = "chat_identities.external_user_id"
RECIPIENT = "chat_deliveries.recipient"


def stored(column: ColumnElement[Any]) -> ColumnElement[str | None]:
    """A sealed column as it is stored (ciphertext, or legacy plaintext), for comparing
    with a plain value: without it the value compared with would be sealed too."""
    return type_coerce(column, Text())


def mobile_index(raw: str | None) -> str | None:
    key = phone_key(raw) if raw else ""
    return blind_index(MOBILE, key) if key else None


def email_index(raw: str | None) -> str | None:
    key = email_key(raw) if raw else ""
    return blind_index(EMAIL, key) if key else None


def chat_id_index(raw: str | None) -> str | None:
    return blind_index(CHAT_ID, exact_key(raw)) if raw else None


def recipient_index(raw: str | None) -> str | None:
    """A direct message's address: an openid, a Telegram chat id or an e-mail, case-folded
    so an e-mail typed in another case is the same address. Looked up only to find one
    person's deliveries (cancelling and erasing them, candor.privacy)."""
    key = email_key(raw) if raw else ""
    return blind_index(RECIPIENT, key) if key else None


def index_on_insert(column: str, index: Callable[[str | None], str | None]) -> Any:
    """A blind index's default on INSERT, from the row's own value: a Core insert that
    names only the value still gets its index (an ORM update sets it through the models'
    attribute listeners; a Core UPDATE must set it itself)."""

    def compute(context: Any) -> str | None:
        return index(context.get_current_parameters().get(column))

    return compute


def has_email(email: str) -> ColumnElement[bool]:
    """Candidates with this e-mail address, whatever its case."""
    from candor.models import Candidate

    return Candidate.email == email_key(email)


def has_mobile(number: str, legacy_forms: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
    """Candidates with this phone number however it was written (`phone_key`); rows still
    in plaintext match `legacy_forms`, the caller's condition on the stored value, while
    plaintext lookups are on. Nobody for a "number" without digits (== None would be IS
    NULL: every candidate without a mobile)."""
    from candor.models import Candidate

    index = mobile_index(number)
    if index is None:
        return false()
    indexed = Candidate.mobile_index == index
    if legacy_forms is None or not current_keyring().plaintext_lookups:
        return indexed
    return or_(
        indexed,
        and_(Candidate.mobile_index.is_(None), Candidate.mobile.is_not(None), legacy_forms),
    )


def has_chat_id(channel: Channel, external_user_id: str) -> tuple[ColumnElement[bool], ...]:
    """The chat account `external_user_id` on `channel` (unique per channel)."""
    from candor.models import ChatIdentity

    return (ChatIdentity.channel == channel, ChatIdentity.external_user_id == external_user_id)
