"""Authenticating and opening WeChat callbacks, and sealing passive replies.

Every callback carries `signature = sha1(sorted(token, timestamp, nonce))`. In compatible and
safe mode the message itself is AES-256-CBC encrypted with the EncodingAESKey and signed as
`msg_signature = sha1(sorted(token, timestamp, nonce, ciphertext))`. wechatpy does the
cryptography; this module adds what wechatpy leaves to its caller: key rotation (the
previous EncodingAESKey is tried when the current one does not open a message) and the
freshness window for timestamps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.exceptions import (  # type: ignore[import-untyped]
    InvalidSignatureException,
    WeChatException,
)
from wechatpy.utils import check_signature  # type: ignore[import-untyped]

MAX_CLOCK_SKEW_SECONDS = 300


class CallbackRejectedError(Exception):
    """A callback we refuse; `status_code` is the HTTP answer (always 4xx)."""

    status_code = 400
    code = "wechat_bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadSignatureError(CallbackRejectedError):
    status_code = 403
    code = "wechat_bad_signature"


class StaleRequestError(CallbackRejectedError):
    status_code = 403
    code = "wechat_stale_request"


class ReplayedNonceError(CallbackRejectedError):
    status_code = 403
    code = "wechat_replayed_nonce"


class EncryptionRequiredError(CallbackRejectedError):
    """A plaintext message in safe mode: nothing authenticates its body."""

    status_code = 403
    code = "wechat_encryption_required"


class MalformedRequestError(CallbackRejectedError):
    status_code = 400
    code = "wechat_malformed"


class UnsupportedMessageError(CallbackRejectedError):
    status_code = 400
    code = "wechat_unsupported_message"


class PayloadTooLargeError(CallbackRejectedError):
    status_code = 413
    code = "wechat_payload_too_large"


@dataclass(frozen=True, slots=True)
class SignedQuery:
    """The query string WeChat adds to every callback URL."""

    signature: str
    timestamp: str
    nonce: str
    encrypt_type: str | None = None
    msg_signature: str | None = None

    @property
    def encrypted(self) -> bool:
        return (self.encrypt_type or "raw").lower() == "aes"


def verify_signature(token: str, query: SignedQuery) -> None:
    try:
        check_signature(token, query.signature, query.timestamp, query.nonce)
    except InvalidSignatureException:
        raise BadSignatureError("the signature does not match") from None


def check_fresh(timestamp: str, *, now: float) -> int:
    """The timestamp as an int; refused when more than 5 minutes away from our clock."""
    try:
        value = int(timestamp)
    except ValueError:
        raise MalformedRequestError("timestamp is not a number") from None
    if abs(now - value) > MAX_CLOCK_SKEW_SECONDS:
        raise StaleRequestError("the timestamp is more than 5 minutes away")
    return value


@dataclass(frozen=True, slots=True)
class Opened:
    xml: str
    key_index: int  # which EncodingAESKey opened it; the reply is sealed with the same one


class Envelope:
    """AES envelopes with the current EncodingAESKey and, during a rotation, the previous one."""

    def __init__(self, token: str, app_id: str, aes_keys: tuple[str, ...]) -> None:
        if not aes_keys:
            raise ValueError("an Envelope needs at least one EncodingAESKey")
        self._cryptos = tuple(WeChatCrypto(token, key, app_id) for key in aes_keys)

    def open(self, encrypted: str, *, msg_signature: str, timestamp: str, nonce: str) -> Opened:
        """Check `msg_signature` over the ciphertext and decrypt it.

        The signature does not depend on the key, so a bad signature is refused at once;
        a message that only the previous key opens is one WeChat sealed before it switched.
        """
        for index, crypto in enumerate(self._cryptos):
            try:
                xml = crypto.decrypt_message(
                    {"Encrypt": encrypted}, msg_signature, timestamp, nonce
                )
            except InvalidSignatureException:
                raise BadSignatureError("msg_signature does not match") from None
            except (WeChatException, ValueError, IndexError, struct.error):
                continue  # not this key (wrong padding, app id or length)
            return Opened(xml=str(xml), key_index=index)
        raise MalformedRequestError("no configured EncodingAESKey opens this message")

    def seal(self, xml: str, *, key_index: int, timestamp: str, nonce: str) -> str:
        sealed: str = self._cryptos[key_index].encrypt_message(xml, nonce, timestamp)
        return sealed
