from __future__ import annotations

import pytest

from candor.outreach.sms_callbacks import (
    InvalidSmsCallbackError,
    SmsProvider,
    is_opt_out,
    mobile_forms,
    parse_replies,
)


@pytest.mark.parametrize(
    "text",
    [
        "TD",
        "td",
        " Td ",
        "ＴＤ",
        "T",
        "n",
        "退订",
        "退订。",
        " 退订！",
        "STOP",
        "Unsubscribe",
        "td\n",
    ],
)
def test_the_opt_out_words_in_any_width_case_and_trim(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["", "TD是什么", "不要退订", "好的", "stopped", "TDD", "N/A"])
def test_other_replies_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize(
    "phone_number", ["13800138000", "8613800138000", "+8613800138000", "008613800138000"]
)
def test_alibaba_numbers_with_or_without_the_country_code_are_the_same(phone_number: str) -> None:
    [reply] = parse_replies(SmsProvider.ALIBABA, [{"phone_number": phone_number, "content": "TD"}])

    assert (reply.country_code, reply.national_number) == ("86", "13800138000")


def test_the_digit_forms_an_ats_may_write_a_mobile_in() -> None:
    assert mobile_forms("86", "13800138000") == {
        "13800138000",
        "8613800138000",
        "008613800138000",
    }
    assert mobile_forms("852", "91234567") == {"85291234567", "0085291234567"}


def test_a_tencent_reply_is_one_object_and_an_alibaba_push_an_array() -> None:
    [reply] = parse_replies(
        SmsProvider.TENCENT, {"mobile": "13800138000", "nationcode": "86", "text": "TD"}
    )

    assert reply.text == "TD"
    with pytest.raises(InvalidSmsCallbackError):
        parse_replies(SmsProvider.ALIBABA, {"phone_number": "13800138000", "content": "TD"})
