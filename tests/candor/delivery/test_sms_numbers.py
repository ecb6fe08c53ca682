from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.delivery.sms_numbers import (
    InvalidMobileNumberError,
    is_mainland_mobile,
    mobile_or_none,
    normalize_mobile,
)

mainland = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
separators = st.sampled_from(["", " ", "-"])


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("(+86) 19912345678", "+8619912345678"),
        ("+44 7400 123456", "+447400123456"),
        ("0044 7400 123456", "+447400123456"),
        ("+852 5123 4567", "+85251234567"),
        ("+1 650-253-0000", "+16502530000"),  # the US does not tell mobiles from landlines
    ],
)
def test_mobile_numbers_become_e164(raw: str, e164: str) -> None:
    assert normalize_mobile(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12800138000",  # 12x is not a mobile range
        "1380013800",  # one digit short
        "138001380001",  # one digit too many
        "+86 10 6552 9988",  # a Beijing landline
        "010 6552 9988",  # a landline written locally
        "7400 123456",  # no country code
        "+44 20 7946 0000",  # a London landline
        "+999 1234567",  # no such country
        "not a number",
    ],
)
def test_numbers_an_sms_cannot_reach_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidMobileNumberError) as refused:
        normalize_mobile(raw)
    assert str(refused.value)
    assert mobile_or_none(raw) is None


def test_digits_of_other_scripts_are_not_a_mainland_number() -> None:
    with pytest.raises(InvalidMobileNumberError):
        normalize_mobile("١٣٨٠٠١٣٨٠٠٠")  # Arabic-Indic digits: Unicode \d, not 0-9


def test_no_number_is_none() -> None:
    assert mobile_or_none(None) is None


@given(mainland, st.sampled_from(["", "+86", "0086", "86", "+86 "]), separators)
def test_every_mainland_mobile_in_any_written_form_normalises_to_one_number(
    number: str, prefix: str, separator: str
) -> None:
    written = prefix + separator.join([number[:3], number[3:7], number[7:]])
    e164 = normalize_mobile(written)
    assert e164 == f"+86{number}"
    assert is_mainland_mobile(e164)
    assert normalize_mobile(e164) == e164  # idempotent


@given(st.text(max_size=30))
def test_any_text_is_a_normalised_mobile_or_refused(raw: str) -> None:
    try:
        e164 = normalize_mobile(raw)
    except InvalidMobileNumberError:
        return
    assert e164.startswith("+")
    assert e164[1:].isascii()
    assert e164[1:].isdigit()
    assert normalize_mobile(e164) == e164
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164)) or is_mainland_mobile(e164)


@given(st.sampled_from(["GB", "HK", "SG", "DE", "JP", "US"]))
def test_libphonenumbers_example_mobiles_of_other_countries_are_accepted(region: str) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    international = phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    assert normalize_mobile(international) == phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.E164
    )
