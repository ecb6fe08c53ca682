"""Callback authentication and the AES envelope, checked against published vectors."""

from __future__ import annotations

import hashlib

import pytest
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]

from bot.channels.wechat.envelope import (
    BadSignatureError,
    Envelope,
    MalformedRequestError,
    SignedQuery,
    StaleRequestError,
    check_fresh,
    verify_signature,
)
from bot.channels.wechat.messages import encrypted_part, safe_xml

# WeChat's official sample for message encryption (the "WXBizMsgCrypt" sample code that the
# Official Account docs link from 消息加解密说明, Sample.cs/Sample.java; the same vector is in
# https://developer.work.weixin.qq.com/document/path/90968).
OFFICIAL_TOKEN = "QDG6eK"
OFFICIAL_APP_ID = "wx5823bf96d3bd56c7"
OFFICIAL_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OFFICIAL_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
OFFICIAL_TIMESTAMP = "1409659813"
OFFICIAL_NONCE = "1372623149"
OFFICIAL_ENCRYPTED = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qc"
    "zcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs"
    "8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4z"
    "G4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS"
    "0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAV"
    "e0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
OFFICIAL_REQUEST = (
    f"<xml><ToUserName><![CDATA[{OFFICIAL_APP_ID}]]></ToUserName>"
    f"<Encrypt><![CDATA[{OFFICIAL_ENCRYPTED}]]></Encrypt></xml>"
)
# The URL-verification echostr of the same sample (sVerifyMsgSig ...).
OFFICIAL_VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
OFFICIAL_VERIFY_TIMESTAMP = "1409659589"
OFFICIAL_VERIFY_NONCE = "263014780"
OFFICIAL_VERIFY_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)

# wechatpy's own vectors: wechatpy/wechatpy tests/test_crypto.py (test_decrypt_message,
# test_check_signature_should_ok), commit 3d560725881d69a5a8aca7a36f98e06dd8975042.
WECHATPY_TOKEN = "123456"
WECHATPY_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WECHATPY_ID = "wx49f0ab532d5d035a"
WECHATPY_ENCRYPTED = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6I"
    "HCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTda"
    "XpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHz"
    "kVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUG"
    "APOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
WECHATPY_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
WECHATPY_TIMESTAMP = "1411525903"
WECHATPY_NONCE = "461056294"
WECHATPY_VERIFY_SIGNATURE = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
WECHATPY_VERIFY = ("1411443780", "437374425")
WECHATPY_VERIFY_ECHOSTR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)


def test_the_official_sample_message_opens() -> None:
    envelope = Envelope(OFFICIAL_TOKEN, OFFICIAL_APP_ID, (OFFICIAL_AES_KEY,))

    opened = envelope.open(
        encrypted_part(safe_xml(OFFICIAL_REQUEST)),
        msg_signature=OFFICIAL_MSG_SIGNATURE,
        timestamp=OFFICIAL_TIMESTAMP,
        nonce=OFFICIAL_NONCE,
    )

    root = safe_xml(opened.xml)
    assert root.findtext("Content") == "hello"
    assert root.findtext("FromUserName") == "mycreate"
    assert root.findtext("MsgId") == "4561255354251345929"
    assert opened.key_index == 0


def test_the_official_sample_echostr_opens() -> None:
    envelope = Envelope(OFFICIAL_TOKEN, OFFICIAL_APP_ID, (OFFICIAL_AES_KEY,))

    opened = envelope.open(
        OFFICIAL_VERIFY_ECHOSTR,
        msg_signature=OFFICIAL_VERIFY_SIGNATURE,
        timestamp=OFFICIAL_VERIFY_TIMESTAMP,
        nonce=OFFICIAL_VERIFY_NONCE,
    )

    assert opened.xml == "1616140317555161061"


def test_the_official_sample_with_a_wrong_signature_is_refused() -> None:
    envelope = Envelope(OFFICIAL_TOKEN, OFFICIAL_APP_ID, (OFFICIAL_AES_KEY,))

    with pytest.raises(BadSignatureError):
        envelope.open(
            OFFICIAL_ENCRYPTED,
            msg_signature=OFFICIAL_MSG_SIGNATURE,
            timestamp=OFFICIAL_TIMESTAMP,
            nonce="1372623148",
        )


def test_wechatpys_vector_opens() -> None:
    envelope = Envelope(WECHATPY_TOKEN, WECHATPY_ID, (WECHATPY_AES_KEY,))

    opened = envelope.open(
        WECHATPY_ENCRYPTED,
        msg_signature=WECHATPY_SIGNATURE,
        timestamp=WECHATPY_TIMESTAMP,
        nonce=WECHATPY_NONCE,
    )

    root = safe_xml(opened.xml)
    assert root.findtext("Content") == "test"
    assert root.findtext("FromUserName") == "messense"


def test_wechatpys_signature_vector() -> None:
    envelope = Envelope(WECHATPY_TOKEN, WECHATPY_ID, (WECHATPY_AES_KEY,))
    timestamp, nonce = WECHATPY_VERIFY

    envelope.open(
        WECHATPY_VERIFY_ECHOSTR,
        msg_signature=WECHATPY_VERIFY_SIGNATURE,
        timestamp=timestamp,
        nonce=nonce,
    )
    with pytest.raises(BadSignatureError):  # wechatpy's test_check_signature_should_fail
        envelope.open(
            WECHATPY_VERIFY_ECHOSTR,
            msg_signature=WECHATPY_VERIFY_SIGNATURE,
            timestamp=timestamp,
            nonce="437374424",
        )


def test_the_previous_key_still_opens_during_a_rotation_and_seals_the_reply() -> None:
    new_key = "B" * 43
    old = WeChatCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_APP_ID)
    sealed_by_wechat = old.encrypt_message("<xml><Content>hi</Content></xml>", "42", "1700000000")
    root = safe_xml(sealed_by_wechat)
    envelope = Envelope(OFFICIAL_TOKEN, OFFICIAL_APP_ID, (new_key, OFFICIAL_AES_KEY))

    opened = envelope.open(
        encrypted_part(root),
        msg_signature=root.findtext("MsgSignature") or "",
        timestamp="1700000000",
        nonce="42",
    )
    reply = envelope.seal(
        "<xml><Content>ok</Content></xml>", key_index=opened.key_index, timestamp="1", nonce="7"
    )

    assert opened.key_index == 1
    reply_root = safe_xml(reply)
    assert "ok" in old.decrypt_message(reply, reply_root.findtext("MsgSignature"), "1", "7")


def test_a_message_no_configured_key_opens_is_malformed() -> None:
    stranger = WeChatCrypto(OFFICIAL_TOKEN, "C" * 43, OFFICIAL_APP_ID)
    root = safe_xml(stranger.encrypt_message("<xml/>", "1", "1700000000"))
    envelope = Envelope(OFFICIAL_TOKEN, OFFICIAL_APP_ID, (OFFICIAL_AES_KEY,))

    with pytest.raises(MalformedRequestError):
        envelope.open(
            encrypted_part(root),
            msg_signature=root.findtext("MsgSignature") or "",
            timestamp="1700000000",
            nonce="1",
        )


def test_plaintext_signature() -> None:
    # sha1 over the sorted token, timestamp and nonce (WeChat's 接入指南).
    good = hashlib.sha1(b"".join(sorted([b"token", b"1", b"2"]))).hexdigest()  # noqa: S324
    verify_signature("token", SignedQuery(signature=good, timestamp="1", nonce="2"))
    with pytest.raises(BadSignatureError):
        verify_signature("token", SignedQuery(signature=good, timestamp="1", nonce="3"))


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamps_beyond_five_minutes_are_stale(offset: int) -> None:
    with pytest.raises(StaleRequestError):
        check_fresh(str(1_700_000_000 + offset), now=1_700_000_000)


def test_timestamps_within_five_minutes_pass() -> None:
    assert check_fresh("1700000299", now=1_700_000_000) == 1_700_000_299


def test_a_timestamp_that_is_not_a_number_is_malformed() -> None:
    with pytest.raises(MalformedRequestError):
        check_fresh("soon", now=1_700_000_000)
