"""The keyring: data keys by id (one active for writing) and the blind-index key.

Parsed from the settings when they are validated, so a missing or malformed key stops the
process at start-up (`candor` exits with the message), never at the first row it reads.
Imports only the standard library and `cryptography`: the settings use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEVELOPMENT_KEY_ID",
    "KEY_BYTES",
    "Keyring",
    "KeyringError",
    "development_keyring",
    "parse_keyring",
]

KEY_BYTES = 32
DEVELOPMENT_KEY_ID = "dev"
# A key id is written into every ciphertext (`enc:v1:<id>:...`), so it is short and never
# contains the separator.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


class KeyringError(ValueError):
    """The configured keys are missing or malformed (a settings error: shown at start-up)."""


@dataclass(frozen=True, slots=True)
class Keyring:
    keys: dict[str, bytes]
    active_key_id: str
    blind_index_key: bytes
    # Off only for benchmarks and a rolling upgrade's first step: values are written in
    # plaintext (still with their blind index) and read either way.
    encrypt_writes: bool = True
    # Off once `candor crypto status` shows no plaintext left: lookups then compare blind
    # indexes only, and no plaintext value is sent to the database to compare with.
    plaintext_lookups: bool = True
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            self._ciphers[key_id] = AESGCM(key)

    def cipher(self, key_id: str) -> AESGCM | None:
        return self._ciphers.get(key_id)

    def __repr__(self) -> str:  # never the keys themselves
        return f"Keyring(key_ids={sorted(self.keys)}, active={self.active_key_id!r})"


def _decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"{what} is not base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def parse_keyring(
    keys: str,
    active_key_id: str | None,
    blind_index_key: str,
    *,
    encrypt_writes: bool = True,
    plaintext_lookups: bool = True,
) -> Keyring:
    """`keys` is `id:base64,id:base64`; the active id may be left out when there is one key."""
    parsed: dict[str, bytes] = {}
    for item in (part.strip() for part in keys.split(",")):
        if not item:
            continue
        key_id, separator, encoded = item.partition(":")
        key_id = key_id.strip()
        if not separator or not KEY_ID.fullmatch(key_id):
            raise KeyringError(
                "CANDOR_ENCRYPTION_KEYS must be id:base64-key pairs separated by commas, "
                "each id 1-16 of A-Z a-z 0-9 _ -"
            )
        if key_id in parsed:
            raise KeyringError(f"CANDOR_ENCRYPTION_KEYS names key {key_id!r} twice")
        parsed[key_id] = _decode_key(encoded, f"encryption key {key_id!r}")
    if not parsed:
        raise KeyringError("CANDOR_ENCRYPTION_KEYS holds no key")
    if active_key_id is None:
        if len(parsed) > 1:
            raise KeyringError(
                "CANDOR_ENCRYPTION_ACTIVE_KEY must name the key that encrypts new values "
                f"when there are several ({', '.join(sorted(parsed))})"
            )
        active_key_id = next(iter(parsed))
    if active_key_id not in parsed:
        raise KeyringError(
            f"CANDOR_ENCRYPTION_ACTIVE_KEY {active_key_id!r} is not in CANDOR_ENCRYPTION_KEYS"
        )
    blind = _decode_key(blind_index_key, "CANDOR_BLIND_INDEX_KEY")
    if any(hmac.compare_digest(blind, key) for key in parsed.values()):
        raise KeyringError("CANDOR_BLIND_INDEX_KEY must differ from every encryption key")
    return Keyring(parsed, active_key_id, blind, encrypt_writes, plaintext_lookups)


def development_keyring(
    secret_key: str, *, encrypt_writes: bool = True, plaintext_lookups: bool = True
) -> Keyring:
    """Keys derived from the secret key, for development and tests only: the embedded demo
    then needs no set-up. Production refuses to start without real keys."""

    def derive(purpose: bytes) -> bytes:
        return hmac.new(secret_key.encode(), b"candor-dev-key:" + purpose, hashlib.sha256).digest()

    return Keyring(
        {DEVELOPMENT_KEY_ID: derive(b"encryption")},
        DEVELOPMENT_KEY_ID,
        derive(b"blind-index"),
        encrypt_writes,
        plaintext_lookups,
    )


def generate_key() -> str:
    """A new random 32-byte key, base64, for CANDOR_ENCRYPTION_KEYS or the blind-index key."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
