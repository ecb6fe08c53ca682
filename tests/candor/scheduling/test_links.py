"""The signed `.ics` link of a booking."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from candor.scheduling.links import ics_url, verify_ics_signature
from candor.settings import Settings

SECRET = "s" * 40


def _settings() -> Settings:
    return Settings(public_url="https://jobs.example.com/", secret_key=SecretStr(SECRET))


def test_the_link_names_the_booking_under_the_public_url_and_carries_a_signature() -> None:
    url = urlsplit(ics_url(_settings(), "Abc-123_x"))
    assert (url.scheme, url.netloc) == ("https", "jobs.example.com")
    assert url.path == "/api/v1/scheduling/bookings/Abc-123_x.ics"
    signature = parse_qs(url.query)["sig"][0]
    assert verify_ics_signature(_settings(), "Abc-123_x", signature)


def test_a_signature_fits_only_its_own_booking_and_secret() -> None:
    signature = parse_qs(urlsplit(ics_url(_settings(), "booking-a")).query)["sig"][0]
    assert not verify_ics_signature(_settings(), "booking-b", signature)
    other = Settings(public_url="https://jobs.example.com", secret_key=SecretStr("t" * 40))
    assert not verify_ics_signature(other, "booking-a", signature)
    assert not verify_ics_signature(_settings(), "booking-a", "")
    assert not verify_ics_signature(_settings(), "booking-a", signature[:-1])
    assert not verify_ics_signature(_settings(), "booking-a", "é" + signature)
