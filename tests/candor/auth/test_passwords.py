"""argon2 password hashes."""

from __future__ import annotations

import pytest

from candor.auth.passwords import (
    MIN_LENGTH,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)


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


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "enter a password"),
        ("short pw", f"at least {MIN_LENGTH} characters"),
        ("wang@example.com", "e-mail address"),
        ("WANG@example.com  ", "e-mail address"),
        ("a" * MIN_LENGTH, "different characters"),
        ("x" * 1001 + "yzw!", "at most 1000"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, problem: str) -> None:
    problems = password_problems(password, email="wang@example.com")
    assert any(problem in p for p in problems), problems


def test_a_long_passphrase_is_accepted_without_composition_rules() -> None:
    assert password_problems("correct horse battery staple", email="wang@example.com") == []
    assert password_problems("长城长城长城长城长城万里", email="wang@example.com") == []
