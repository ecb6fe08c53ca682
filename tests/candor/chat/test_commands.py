from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.chat.commands import (
    BindRequest,
    OneTimeCode,
    OptIn,
    OptOut,
    PreferChannel,
    Unbind,
    normalise_phone,
    parse_command,
)
from candor.models.enums import Channel


@pytest.mark.parametrize("text", ["退订", "STOP", "/stop", "Stop!", "ＳＴＯＰ", " 退订。", "TD"])
def test_opt_out_words(text: str) -> None:
    assert parse_command(text) == OptOut()


@pytest.mark.parametrize("text", ["please don't stop", "stop sending me rejections please"])
def test_opt_out_needs_the_word_alone(text: str) -> None:
    assert not isinstance(parse_command(text), OptOut)


@pytest.mark.parametrize("text", ["订阅", "START", "恢复订阅"])
def test_opt_in_words(text: str) -> None:
    assert parse_command(text) == OptIn()


@pytest.mark.parametrize("text", ["解绑", "/unbind"])
def test_unbind_words(text: str) -> None:
    assert parse_command(text) == Unbind()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("绑定 AP-2026-000123", "AP-2026-000123"),
        ("bind ap-2026-000123", "AP-2026-000123"),
        ("绑定：AP-2026-000042", "AP-2026-000042"),
        ("AP-2026-000123", "AP-2026-000123"),
    ],
)
def test_a_bind_request_without_a_contact_names_only_the_code(text: str, code: str) -> None:
    assert parse_command(text) == BindRequest(code)


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        ("绑定 AP-2026-000123 Name@Example.com", "name@example.com"),
        ("绑定：AP-2026-000123，邮箱：a.b@x.cn。", "a.b@x.cn"),
        ("bind ap-2026-000123 with +86 138 0013 8000", "13800138000"),
        ("bind AP-2026-000123, phone: (0086) 138-0013-8000", "13800138000"),
        ("绑定　ＡＰ－２０２６－０００１２３　手机号１３８００１３８０００", "13800138000"),
        ("AP-2026-000123 13800138000", "13800138000"),
    ],
)
def test_bind_requests_with_the_candidates_contact(text: str, contact: str) -> None:
    assert parse_command(text) == BindRequest("AP-2026-000123", contact)


@pytest.mark.parametrize(
    "text", ["AP-2026-000123 我是这个", "绑定 AP-2026-000123 name@", "绑定 AP-2026-000123 12-34"]
)
def test_a_bind_request_with_something_else_than_a_contact_is_no_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456", OneTimeCode("123456", None)),
        ("１２３４５６", OneTimeCode("123456", None)),
        ("AP-2026-000123 654321", OneTimeCode("654321", "AP-2026-000123")),
    ],
)
def test_one_time_codes(text: str, expected: OneTimeCode) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("以后发邮件给我", Channel.EMAIL),
        ("以后请用邮箱联系我", Channel.EMAIL),
        ("please email me instead", Channel.EMAIL),
        ("改用微信通知我", Channel.WECHAT),
        ("I prefer Telegram", Channel.TELEGRAM),
        ("以后发短信通知我", Channel.SMS),
        ("please send me an SMS instead", Channel.SMS),
    ],
)
def test_preference_changes(text: str, channel: Channel) -> None:
    assert parse_command(text) == PreferChannel(channel)


@pytest.mark.parametrize(
    "text",
    [
        "我的面试结果出来了吗？",
        "微信和邮件都可以",  # two channels: not a preference
        "I saw your email about the settings",  # no cue, and "tg" is not a word here
        "以后" + "很长的一句话" * 10 + "邮件",  # too long to be a simple request
        "12345",
        "1234567",
    ],
)
def test_other_text_is_for_the_engine(text: str) -> None:
    assert parse_command(text) is None


@given(st.text(max_size=200))
def test_any_text_parses_to_a_command_or_none(text: str) -> None:
    command = parse_command(text)
    assert command is None or isinstance(
        command, OptOut | OptIn | Unbind | BindRequest | OneTimeCode | PreferChannel
    )
    if isinstance(command, OneTimeCode):
        assert len(command.code) == 6
        assert command.code.isascii()
        assert command.code.isdigit()
    if isinstance(command, BindRequest):
        assert command.application_code.startswith("AP-")


@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_every_six_digit_string_is_a_code(code: str) -> None:
    assert parse_command(code) == OneTimeCode(code, None)


@pytest.mark.parametrize(
    ("one", "other"),
    [("+44 20 7946 0000", "0044 20 7946 0000"), ("+86 138-0013-8000", "0086 13800138000")],
)
def test_a_number_with_00_or_plus_is_one_number_for_the_chat_and_its_blind_index(
    one: str, other: str
) -> None:
    from candor.chat.binding import contact_matches
    from candor.crypto.fields import phone_key
    from candor.models import Candidate

    assert normalise_phone(one) == normalise_phone(other) == phone_key(other)
    assert contact_matches(Candidate(mobile=one), normalise_phone(other))
