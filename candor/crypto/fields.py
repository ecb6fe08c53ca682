"""Sealed columns: AES-256-GCM per value, bound to its column, with the key id in the text.

A sealed value is `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`: a random 96-bit
nonce per value, and associated data naming the format, the key id and the column
(`candidates.mobile`), so a value copied into another column, or a key id edited, fails
authentication instead of decrypting. Any other value is legacy plaintext, written before
migration 0022 (or with CANDOR_ENCRYPTION_AT_REST off): it is read as it is until `candor
crypto reencrypt` seals it. "Sealed" is decided by the whole structure (a valid key id, and a
base64url body long enough for a nonce and a tag), so a plaintext that merely starts with the
prefix is not mistaken for ciphertext. The empty string is stored as it is: it says nothing,
and sealing it would give a value no blind index can be computed for.

Exact lookups cannot compare ciphertexts (every seal is different), so the columns looked up
by value have a blind index beside them: the HMAC-SHA256 of the normalised value under the
blind-index key, cut to 128 bits, keyed per column (`blind_index`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    ClauseElement,
    ColumnElement,
    Text,
    and_,
    false,
    literal,
    not_,
    or_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator, TypeEngine

from candor.crypto.keys import KEY_ID, Keyring
from candor.errors import CandorError

__all__ = [
    "BLIND_INDEX_CHARS",
    "PREFIX",
    "CiphertextRejectedError",
    "EncryptionError",
    "SealedColumnError",
    "SealedJSON",
    "SealedText",
    "UnknownEncryptionKeyError",
    "blind_index",
    "current_keyring",
    "email_key",
    "exact_key",
    "is_sealed",
    "key_id_of",
    "open_value",
    "phone_key",
    "seal",
    "use_keyring",
]

PREFIX = "enc:v1:"
NONCE_BYTES = 12
TAG_BYTES = 16
BLIND_INDEX_CHARS = 32  # 128 bits, hex
# nonce + tag (+ the plaintext) in unpadded base64url: at least 38 characters.
_MIN_BODY_CHARS = -(-(NONCE_BYTES + TAG_BYTES) * 4 // 3)
_SEALED = re.compile(
    rf"{re.escape(PREFIX)}(?P<key_id>{KEY_ID.pattern}):(?P<body>[A-Za-z0-9_-]{{{_MIN_BODY_CHARS},}})"
)

_keyring: Keyring | None = None


class EncryptionError(CandorError):
    code = "encryption_error"
    http_status = 500


class UnknownEncryptionKeyError(EncryptionError):
    """A value sealed with a key this process does not have (removed from the keyring too
    early, or a database from another installation)."""

    code = "encryption_key_unknown"


class CiphertextRejectedError(EncryptionError):
    """A sealed value that does not authenticate: altered, truncated, or moved from another
    column. Never decrypted into garbage."""

    code = "ciphertext_rejected"


def use_keyring(keyring: Keyring) -> None:
    """Make `keyring` the process's: every sealed column reads and writes with it. Called by
    `candor.db.engine.create_engine` with the settings it is given."""
    global _keyring
    _keyring = keyring


def current_keyring() -> Keyring:
    if _keyring is None:
        from candor.settings import get_settings

        use_keyring(get_settings().keyring)
    assert _keyring is not None
    return _keyring


def _aad(key_id: str, context: str) -> bytes:
    return f"{PREFIX}{key_id}:{context}".encode()


def seal(plaintext: str, context: str, keyring: Keyring | None = None) -> str:
    """`plaintext` sealed for the column named `context` with the active key."""
    ring = keyring or current_keyring()
    key_id = ring.active_key_id
    cipher = ring.cipher(key_id)
    assert cipher is not None
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, plaintext.encode(), _aad(key_id, context))
    body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
    return f"{PREFIX}{key_id}:{body}"


def _parse(stored: str) -> tuple[str, str] | None:
    """(key id, body) of a sealed value; None for anything else (legacy plaintext)."""
    match = _SEALED.fullmatch(stored) if stored.startswith(PREFIX) else None
    if match is None or len(match["body"]) % 4 == 1:  # no base64 text is 1 mod 4 long
        return None
    return match["key_id"], match["body"]


def is_sealed(stored: str) -> bool:
    return _parse(stored) is not None


def key_id_of(stored: str) -> str | None:
    """The key a stored value is sealed with; None for legacy plaintext."""
    parsed = _parse(stored)
    return None if parsed is None else parsed[0]


def open_value(stored: str, context: str, keyring: Keyring | None = None) -> str:
    """The plaintext of a stored value of the column `context`; legacy plaintext as it is."""
    parsed = _parse(stored)
    if parsed is None:
        return stored
    key_id, body = parsed
    ring = keyring or current_keyring()
    cipher = ring.cipher(key_id)
    if cipher is None:
        # The key id and column go to the log (EncryptionError's details are never shown to
        # an API client), so the operator knows which key to put back.
        raise UnknownEncryptionKeyError(
            f"a value of {context} is sealed with key {key_id!r}, which is not in "
            "CANDOR_ENCRYPTION_KEYS",
            details={"key_id": key_id, "column": context},
        )
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    from cryptography.exceptions import InvalidTag

    try:
        plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(key_id, context))
    except InvalidTag as exc:
        raise CiphertextRejectedError(
            f"a sealed value of {context} failed authentication: altered, or written for "
            "another column",
            details={"key_id": key_id, "column": context},
        ) from exc
    return plain.decode()


def blind_index(context: str, normalised: str, keyring: Keyring | None = None) -> str:
    """The blind index of an already normalised value of the column `context`."""
    ring = keyring or current_keyring()
    message = context.encode() + b"\x00" + normalised.encode()
    return hmac.new(ring.blind_index_key, message, hashlib.sha256).hexdigest()[:BLIND_INDEX_CHARS]


def phone_key(raw: str) -> str:
    """A phone number as its blind index and `candor.chat.commands.normalise_phone` (which
    is this, limited to a phone number's length) see it: its digits, without an
    international prefix (00), and a mainland number without +86. "+86 138-0013-8000",
    "0086 13800138000" and "13800138000" are one number; so are "+44 20 7946 0000" and
    "0044 20 7946 0000"."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def email_key(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def exact_key(raw: str) -> str:
    """Chat ids are compared as they are: an openid's case matters."""
    return raw


class SealedColumnError(EncryptionError):
    """A query compared a sealed column in a way only plaintext allows (LIKE, ordering, or
    equality on a column without a blind index): it would silently match nothing."""

    code = "sealed_column_compared"


_PASSED_THROUGH = frozenset({operators.is_, operators.is_not})


class _SealedComparator(TypeDecorator.Comparator[str]):
    """`sealed == value` and `sealed.in_(values)` become lookups by blind index (and by the
    stored value for legacy plaintext rows, whose index is still NULL); IS [NOT] NULL is
    as usual; anything else is refused rather than compared with ciphertext."""

    __slots__ = ()

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
        if op in _PASSED_THROUGH or (
            other
            and isinstance(other[0], ColumnElement)
            and not isinstance(other[0], BindParameter)
        ):
            # NULL checks; and column against column, which SQLAlchemy itself compares
            # (a dict of columns looks keys up with ==) and which compares stored values.
            return super().operate(op, *other, **kwargs)
        if op in (operators.eq, operators.ne) and other[0] is None:  # == None: IS NULL
            return super().operate(op, *other, **kwargs)
        if op is operators.eq:
            return self._lookup(other[0])
        if op is operators.ne:
            return not_(self._lookup(other[0]))
        if op is operators.in_op:
            return or_(false(), *(self._lookup(value) for value in other[0]))
        raise self._refusal(op)

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> ColumnElement[Any]:
        if op is operators.eq:
            return self._lookup(other)
        raise self._refusal(op)

    def _refusal(self, op: Any) -> SealedColumnError:
        sealed = self.expr.type
        assert isinstance(sealed, SealedText)
        return SealedColumnError(
            f"{sealed.context} is encrypted at rest: it can only be looked up by an exact "
            f"value, not with {getattr(op, '__name__', op)}"
        )

    def _lookup(self, value: Any) -> ColumnElement[bool]:
        sealed = self.expr.type
        assert isinstance(sealed, SealedText)
        if sealed.blind_index_column is None or sealed.normalise is None:
            raise SealedColumnError(
                f"{sealed.context} is encrypted at rest and has no blind index to look it up by"
            )
        if isinstance(value, ClauseElement):
            raise SealedColumnError(
                f"{sealed.context} is looked up by a plain value (statements built once: "
                "compare the blind index column with a bind parameter, as "
                "candor/chat/transcript.py does)"
            )
        column = self.expr
        table = getattr(column, "table", None)
        if table is None:
            raise SealedColumnError(f"{sealed.context} is looked up as a table's column")
        index = table.c[sealed.blind_index_column]
        normalised = sealed.normalise(str(value))
        if not normalised:
            return false()
        by_index: ColumnElement[bool] = index == blind_index(sealed.context, normalised)
        if not current_keyring().plaintext_lookups:
            return by_index
        # Legacy plaintext (index still NULL) is compared as it is stored, until
        # CANDOR_ENCRYPTION_PLAINTEXT_LOOKUPS is turned off (docs/operations.md).
        return or_(
            by_index,
            and_(
                index.is_(None),
                column.is_not(None),
                type_coerce(column, Text()) == literal(str(value), Text()),
            ),
        )


class SealedText(TypeDecorator[str]):
    """A text column whose values are sealed for the column `context` ("table.column").

    With `blind_index_column` (and the `normalise` its HMAC is taken of), `column == value`
    is a lookup by blind index (`_SealedComparator`).

    PostgreSQL stores it as TEXT. On SQLite the column keeps its declared type
    (`sqlite_type`): SQLite does not enforce a VARCHAR's length, and changing the declared
    type would rebuild tables that others reference."""

    impl = Text
    cache_ok = True
    comparator_factory = _SealedComparator

    def __init__(
        self,
        context: str,
        sqlite_type: TypeEngine[Any] | None = None,
        *,
        blind_index_column: str | None = None,
        normalise: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__()
        self.context = context
        self.sqlite_type = sqlite_type
        self.blind_index_column = blind_index_column
        self.normalise = normalise

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite" and self.sqlite_type is not None:
            return self.sqlite_type
        return Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if not value:  # NULL, and "" (an erased value): nothing to hide, no index
            return value
        ring = current_keyring()
        return seal(value, self.context, ring) if ring.encrypt_writes else value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return open_value(str(value), self.context)

    @property
    def python_type(self) -> type[str]:
        return str


class SealedJSON(TypeDecorator[Any]):
    """A JSON value (the interview report's lists) sealed: stored as a JSON string holding
    the sealed text of its JSON, so the column keeps its JSON type and legacy rows (a JSON
    list) read as they are."""

    impl = JSON
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return JSONB()
        return JSON()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        ring = current_keyring()
        if not ring.encrypt_writes:
            return value
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return seal(text, self.context, ring)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and value.startswith(PREFIX):
            return json.loads(open_value(value, self.context))
        return value
