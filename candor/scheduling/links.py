"""The links a booking confirmation carries: the `.ics` of the booking, signed so that only
whoever was sent the link can fetch it (the booking's public id alone is not enough)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from candor.settings import Settings

# Binds the signature to this use: the same secret signs other things elsewhere.
_PURPOSE = b"candor.scheduling.ics\0"


def ics_signature(secret: str, booking_public_id: str) -> str:
    digest = hmac.new(
        secret.encode(), _PURPOSE + booking_public_id.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def ics_url(settings: Settings, booking_public_id: str) -> str:
    """Where the candidate downloads the booking's calendar file."""
    signature = ics_signature(settings.secret_key.get_secret_value(), booking_public_id)
    base = settings.public_url.rstrip("/")
    return f"{base}/api/v1/scheduling/bookings/{booking_public_id}.ics?sig={signature}"


def verify_ics_signature(settings: Settings, booking_public_id: str, signature: str) -> bool:
    expected = ics_signature(settings.secret_key.get_secret_value(), booking_public_id)
    return hmac.compare_digest(expected.encode(), signature.encode())
