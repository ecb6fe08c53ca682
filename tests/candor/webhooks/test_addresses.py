"""Which URLs webhooks may reach (SSRF), checked when saved and when sent."""

from __future__ import annotations

import pytest

from candor.webhooks.addresses import (
    WebhookUrlError,
    WebhookUrlRefusedError,
    check_on_save,
    parse_url,
)

REFUSED = [
    ("http://127.0.0.1/h", "loopback"),
    ("http://127.8.9.10:8080/h", "loopback"),
    ("http://[::1]/h", "loopback"),
    ("http://10.1.2.3/h", "private"),
    ("http://172.16.0.1/h", "private"),
    ("http://192.168.1.1/h", "private"),
    ("http://[fd00::1]/h", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/h", "link-local"),
    ("http://224.0.0.1/h", "multicast"),
    ("http://[ff02::1]/h", "multicast"),
    ("http://240.0.0.1/h", "reserved"),
    ("http://0.0.0.0/h", "unspecified"),
    ("http://[::]/h", "unspecified"),
    ("http://100.64.0.1/h", "non-public"),  # carrier-grade NAT
    ("http://[::ffff:127.0.0.1]/h", "IPv4-mapped loopback"),
    ("http://[::ffff:10.0.0.1]/h", "IPv4-mapped private"),
    ("http://[::ffff:169.254.169.254]/h", "IPv4-mapped link-local"),
    ("http://localhost:8000/h", "loopback"),
    ("http://[2002:7f00:1::]/h", "6to4 loopback"),  # 6to4 of 127.0.0.1
    ("http://[2002:a00:1::]/h", "6to4 private"),  # 6to4 of 10.0.0.1
    ("http://[2002:a9fe:a9fe::1]/h", "6to4 link-local"),  # 6to4 of 169.254.169.254
    ("http://[fec0::1]/h", "site-local"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/h", "Teredo"),  # client 192.0.2.45
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_a_non_public_address_is_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefusedError, match=reason) as refused:
        await check_on_save(url, allow_private=False)
    assert refused.value.code == "webhook_url_refused"
    assert refused.value.http_status == 422


@pytest.mark.parametrize(("url", "_reason"), REFUSED)
async def test_the_on_premise_setting_admits_them(url: str, _reason: str) -> None:
    assert (await check_on_save(url, allow_private=True)).url == url


@pytest.mark.parametrize(
    "url", ["https://93.184.215.14/hooks", "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h"]
)
async def test_a_public_address_is_accepted(url: str) -> None:
    assert (await check_on_save(url, allow_private=False)).url == url


async def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_on_send() -> None:
    parsed = await check_on_save("https://ats.invalid/hooks?x=1", allow_private=False)
    assert (parsed.host, parsed.port, parsed.target) == ("ats.invalid", 443, "/hooks?x=1")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://ats.example.com/h", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
        ("https:///nohost", "give a host"),
        ("https://user:pw@ats.example.com/h", "no user name"),
        ("https://ats.example.com/h#frag", "no fragment"),
        ("https://ats.example.com:99999/h", "url:"),
        ("https://ats.example.com/a b", "no spaces"),
        ("https://ats.example.com/" + "a" * 2000, "at most 2000"),
        ("https://ä" + "a" * 70 + ".example.com/h", "not a valid domain name"),
        ("https://招聘..example.com/h", "not a valid domain name"),
    ],
)
def test_a_malformed_url_is_refused_with_its_reason(url: str, problem: str) -> None:
    with pytest.raises(WebhookUrlError, match=problem) as refused:
        parse_url(url)
    assert refused.value.code == "webhook_url_invalid"


def test_an_internationalised_host_is_sent_in_its_idna_form() -> None:
    parsed = parse_url("https://exämple.com:8443/x")
    assert (parsed.host, parsed.port) == ("xn--exmple-cua.com", 8443)
    assert parsed.url == "https://exämple.com:8443/x"  # shown as the admin wrote it
