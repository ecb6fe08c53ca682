"""HR passwords: argon2id hashes (argon2-cffi's defaults), verified in a worker thread."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verifying against this when the user is unknown takes as long as a real check, so the
    # response time does not tell which e-mail addresses have accounts.
    return _hasher.hash("no-such-user-placeholder")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash never matches. Argon2 is deliberately
    slow (tens of milliseconds), so it runs off the event loop."""
    return await asyncio.to_thread(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


MIN_LENGTH = 12
MAX_LENGTH = 1000  # the login form accepts no longer password


def password_problems(password: str, *, email: str) -> list[str]:
    """Why an admin-chosen password is too weak; empty when it is acceptable.

    Length is what matters most (NIST SP 800-63B): at least `MIN_LENGTH` characters, no
    composition rules, but not the account's own address and not one character repeated.
    """
    if not password:
        return ["enter a password"]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"use at most {MAX_LENGTH} characters")
    normalized = password.strip().lower()
    if normalized in {email.strip().lower(), email.strip().lower().partition("@")[0]}:
        problems.append("do not use the e-mail address as the password")
    if len(set(password)) < 4:
        problems.append("use more than a few different characters")
    return problems
