"""argon2 password hashes."""

from __future__ import annotations

from candor.auth.passwords import hash_password, needs_rehash, verify_password


async def test_the_right_password_verifies_and_others_do_not() -> None:
    stored = hash_password("s3cret 密码")

    assert stored.startswith("$argon2id$")
    assert await verify_password(stored, "s3cret 密码")
    assert not await verify_password(stored, "s3cret")
    assert not await verify_password(None, "s3cret 密码")  # no password set: never
    assert not await verify_password("not-a-hash", "s3cret 密码")


def test_outdated_or_broken_hashes_need_rehashing() -> None:
    assert not needs_rehash(hash_password("x"))
    weak = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$Xn8ra1l2j6bX4c0sPq7mKA"
    assert needs_rehash(weak)
    assert needs_rehash("not-a-hash")
