"""Sealing one value: round trip, authentication, key ids, blind indexes."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import bindparam, select

from candor.crypto.fields import (
    PREFIX,
    CiphertextRejectedError,
    SealedColumnError,
    UnknownEncryptionKeyError,
    blind_index,
    is_sealed,
    key_id_of,
    open_value,
    phone_key,
    seal,
)
from candor.crypto.keys import Keyring, KeyringError, parse_keyring
from candor.crypto.lookups import mobile_index
from candor.models import Candidate, ChatIdentity, Interview

KEY_1 = base64.b64encode(b"1" * 32).decode()
KEY_2 = base64.b64encode(b"2" * 32).decode()
BLIND = base64.b64encode(b"b" * 32).decode()


def ring(keys: str = f"k1:{KEY_1}", active: str | None = None) -> Keyring:
    return parse_keyring(keys, active, BLIND)


def test_a_value_round_trips_and_is_sealed_anew_each_time() -> None:
    keys = ring()
    first = seal("13800138000", "candidates.mobile", keys)
    second = seal("13800138000", "candidates.mobile", keys)

    assert first.startswith(f"{PREFIX}k1:")
    assert first != second  # a random nonce per value
    assert "13800138000" not in first
    assert open_value(first, "candidates.mobile", keys) == "13800138000"
    assert open_value(second, "candidates.mobile", keys) == "13800138000"
    assert key_id_of(first) == "k1"


def test_legacy_plaintext_reads_as_it_is() -> None:
    assert open_value("li@example.com", "candidates.email", ring()) == "li@example.com"
    assert key_id_of("li@example.com") is None


@pytest.mark.parametrize("position", [20, -1, -20])
def test_a_flipped_byte_is_refused(position: int) -> None:
    keys = ring()
    sealed = seal("li@example.com", "candidates.email", keys)
    body = bytearray(base64.urlsafe_b64decode(sealed.split(":", 3)[3] + "=="))
    body[position] ^= 0x01
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(body).decode()

    with pytest.raises(CiphertextRejectedError) as refused:
        open_value(tampered, "candidates.email", keys)
    assert refused.value.code == "ciphertext_rejected"


def test_a_value_moved_to_another_column_is_refused() -> None:
    keys = ring()
    email = seal("li@example.com", "candidates.email", keys)

    with pytest.raises(CiphertextRejectedError, match="another column"):
        open_value(email, "chat_identities.external_user_id", keys)


def test_an_edited_key_id_is_refused() -> None:
    both = ring(f"k1:{KEY_1},k2:{KEY_2}", "k1")
    sealed = seal("li@example.com", "candidates.email", both)

    with pytest.raises(CiphertextRejectedError):
        open_value(sealed.replace(":k1:", ":k2:"), "candidates.email", both)


def test_a_value_under_an_unknown_key_is_a_clear_error() -> None:
    sealed = seal("li@example.com", "candidates.email", ring(f"old:{KEY_1}"))

    with pytest.raises(UnknownEncryptionKeyError, match="'old'") as refused:
        open_value(sealed, "candidates.email", ring(f"k2:{KEY_2}"))
    assert refused.value.code == "encryption_key_unknown"


@pytest.mark.parametrize(
    "legacy",
    [
        f"{PREFIX}k1",
        f"{PREFIX}k1:!!!",
        f"{PREFIX}k1:AAAA",  # too short for a nonce and a tag
        f"{PREFIX}a key:{'A' * 40}",  # not a key id
        f"{PREFIX}k1:{'A' * 41}",  # 1 mod 4: no base64 text is that long
        "enc:v1:see my CV",
    ],
)
def test_plaintext_that_only_starts_like_a_sealed_value_is_read_as_it_is(legacy: str) -> None:
    assert (is_sealed(legacy), key_id_of(legacy)) == (False, None)
    assert open_value(legacy, "candidates.email", ring()) == legacy


def test_a_well_formed_sealed_value_that_does_not_authenticate_is_refused() -> None:
    forged = f"{PREFIX}k1:{'A' * 40}"

    assert is_sealed(forged)
    with pytest.raises(CiphertextRejectedError):
        open_value(forged, "candidates.email", ring())


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ("", None, "holds no key"),
        ("k1", None, "id:base64-key"),
        (f"k1:{base64.b64encode(b'short').decode()}", None, "32 bytes"),
        ("k1:not base64!", None, "not base64"),
        (f"k1:{KEY_1},k2:{KEY_2}", None, "must name the key"),
        (f"k1:{KEY_1}", "k9", "'k9' is not in"),
        (f"k1:{KEY_1},k1:{KEY_2}", "k1", "twice"),
        (f"k1:{BLIND}", None, "must differ"),
    ],
)
def test_a_bad_keyring_is_refused_with_its_reason(
    keys: str, active: str | None, message: str
) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_keyring(keys, active, BLIND)


def test_the_repr_of_a_keyring_shows_no_key() -> None:
    assert KEY_1 not in repr(ring())
    assert "1111" not in repr(ring())


def test_every_way_of_writing_a_number_has_one_blind_index() -> None:
    forms = ["+86 138-0013-8000", "0086 13800138000", "8613800138000", "13800138000"]
    assert {phone_key(form) for form in forms} == {"13800138000"}
    assert phone_key("+44 7400 123456") == phone_key("0044 7400 123456") == "447400123456"
    assert len({mobile_index(form) for form in forms}) == 1


def test_a_blind_index_depends_on_its_key_and_its_column() -> None:
    other = parse_keyring(f"k1:{KEY_1}", None, base64.b64encode(b"c" * 32).decode())
    here = blind_index("candidates.email", "li@example.com", ring())

    assert here != blind_index("candidates.email", "li@example.com", other)
    assert here != blind_index("chat_identities.external_user_id", "li@example.com", ring())
    assert len(here) == 32


def test_equality_on_a_sealed_column_is_a_blind_index_lookup() -> None:
    query = str(select(Candidate.id).where(Candidate.email == "li@example.com"))
    assert "candidates.email_index = " in query


def test_a_comparison_that_cannot_work_on_ciphertext_is_refused() -> None:
    with pytest.raises(SealedColumnError, match="exact value"):
        ChatIdentity.external_user_id.startswith("o-")
    with pytest.raises(SealedColumnError, match="exact value"):
        Candidate.mobile.like("138%")
    with pytest.raises(SealedColumnError, match="no blind index"):
        select(Interview.id).where(Interview.report_summary == "Strong communicator")


def test_a_sealed_column_compared_with_a_bind_parameter_is_refused() -> None:
    with pytest.raises(SealedColumnError, match="bind parameter"):
        select(ChatIdentity.id).where(ChatIdentity.external_user_id == bindparam("openid"))


def test_a_sealed_column_still_compares_with_another_column() -> None:
    # SQLAlchemy compares columns with == (a dict of columns looks keys up that way).
    by_column: dict[object, str] = {Candidate.__table__.c.email: "email"}
    assert by_column[Candidate.email.expression] == "email"  # an annotated copy: == is called


def test_equality_with_none_is_a_null_check() -> None:
    query = str(select(Candidate.id).where(Candidate.email == None))  # noqa: E711
    assert "candidates.email IS NULL" in query
