from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.wechat.envelope import (
    CallbackRejectedError,
    MalformedRequestError,
    UnsupportedMessageError,
)
from bot.channels.wechat.messages import (
    parse_callback,
    render_passive_reply,
    reply_text,
    safe_xml,
)
from candor.chat.messages import Button, Reply
from candor.models.enums import Channel
from tests.wechat_support import ACCOUNT, event_xml, text_xml

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&secret;</Content><MsgId>1</MsgId></xml>"""


def test_a_text_message() -> None:
    parsed = parse_callback(text_xml("o-openid", "你好", 4561255354251345929, created=1700000000))

    assert parsed.openid == "o-openid"
    assert parsed.account == ACCOUNT
    assert parsed.dedupe_key == "msg:4561255354251345929"
    assert parsed.opens_window
    assert parsed.message is not None
    assert parsed.message.channel is Channel.WECHAT
    assert parsed.message.text == "你好"
    assert parsed.message.provider_message_id == "4561255354251345929"


def test_a_follow_through_a_parametric_qr_code_carries_the_scene_without_its_prefix() -> None:
    parsed = parse_callback(event_xml("o1", "subscribe", "qrscene_bind-TOKEN_123", created=5))

    assert parsed.message is not None
    assert parsed.message.event == "subscribe"
    assert parsed.message.event_key == "bind-TOKEN_123"
    assert parsed.dedupe_key == "event:o1:5:subscribe_scan"


def test_a_plain_follow_has_no_scene() -> None:
    parsed = parse_callback(event_xml("o1", "subscribe", "", created=5))

    assert parsed.message is not None
    assert (parsed.message.event, parsed.message.event_key) == ("subscribe", None)


def test_a_scan_by_a_follower() -> None:
    parsed = parse_callback(event_xml("o1", "SCAN", "bind-TOKEN_123", created=6))

    assert parsed.message is not None
    assert (parsed.message.event, parsed.message.event_key) == ("scan", "bind-TOKEN_123")
    assert parsed.dedupe_key == "event:o1:6:scan"


def test_an_unfollow_does_not_open_the_window() -> None:
    parsed = parse_callback(event_xml("o1", "unsubscribe", created=7))

    assert parsed.message is not None
    assert parsed.message.event == "unsubscribe"
    assert not parsed.opens_window


def test_a_template_receipt_is_acknowledged_but_not_for_the_conversation() -> None:
    parsed = parse_callback(event_xml("o1", "TEMPLATESENDJOBFINISH", created=8))

    assert parsed.message is None
    assert not parsed.opens_window


def test_an_image_opens_the_window_but_is_not_for_the_conversation() -> None:
    xml = text_xml("o1", "x", 9).replace("[text]", "[image]")

    parsed = parse_callback(xml)

    assert parsed.message is None
    assert parsed.opens_window


def test_an_unknown_msgtype_is_refused() -> None:
    with pytest.raises(UnsupportedMessageError):
        parse_callback(text_xml("o1", "x", 9).replace("[text]", "[hologram]"))


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE])
def test_entities_and_doctypes_are_refused_before_parsing(body: str) -> None:
    with pytest.raises(MalformedRequestError, match="DOCTYPE"):
        parse_callback(body)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<xml>",
        "not xml",
        "<root><MsgType>text</MsgType></root>",
        "<xml><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName>"
        "<CreateTime>yesterday</CreateTime><MsgType>text</MsgType></xml>",
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(MalformedRequestError):
        parse_callback(body)


@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_parsed_or_refused_with_a_4xx(body: bytes) -> None:
    # Only CallbackRejectedError (always a 4xx) may come out: never a 500.
    with contextlib.suppress(CallbackRejectedError):
        parse_callback(body.decode("utf-8", errors="replace"))


@given(st.text(max_size=300))
def test_any_text_content_is_refused_cleanly_or_parsed_back(content: str) -> None:
    xml = (
        "<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>1"
        "</CreateTime><MsgType>text</MsgType><Content></Content><MsgId>1</MsgId></xml>"
    )
    escaped = content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    try:
        parsed = parse_callback(xml.replace("<Content></Content>", f"<Content>{escaped}</Content>"))
    except CallbackRejectedError:
        return  # control characters and lone surrogates are not XML
    assert parsed.message is not None
    # XML normalises line ends; wechatpy (xmltodict) trims surrounding whitespace.
    expected = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    assert parsed.message.text == expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300))
def test_a_passive_reply_carries_any_text_even_cdata_terminators(text: str) -> None:
    xml = render_passive_reply(openid="o1", account=ACCOUNT, text=text, now=1700000000)

    root = safe_xml(xml)
    assert root.findtext("Content") == text
    assert root.findtext("ToUserName") == "o1"
    assert root.findtext("FromUserName") == ACCOUNT
    assert root.findtext("MsgType") == "text"


def test_replies_join_and_buttons_become_menu_links() -> None:
    text = reply_text(
        [Reply("第一条"), Reply("满意吗?", buttons=(Button("满意", "yes"), Button("不满意", "no")))]
    )

    assert text.startswith("第一条\n\n满意吗?\n")
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=满意&msgmenuid=21">满意</a>' in text
    assert "msgmenucontent=不满意&msgmenuid=22" in text
