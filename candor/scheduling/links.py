"""The candidate's calendar file link: `/api/v1/scheduling/bookings/<public id>.ics?sig=…`.

No login opens it, so the link carries its own authority: an HMAC-SHA256 of the booking's
public id under the app's secret key, bound to this use. A link cannot be made for a booking
without the key, and a changed id or signature opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from candor.settings import Settings

ICS_PATH = "/api/v1/scheduling/bookings/{public_id}.ics"
# Binds the signature to this use: the same secret signs other things elsewhere.
_PURPOSE = b"candor.scheduling.ics\0"


def ics_signature(secret: str, booking_public_id: str) -> str:
    digest = hmac.new(
        secret.encode(), _PURPOSE + booking_public_id.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def ics_url(settings: Settings, booking_public_id: str) -> str:
    """The absolute link to the booking's .ics, for messages to the candidate."""
    signature = ics_signature(settings.secret_key.get_secret_value(), booking_public_id)
    base = settings.public_url.rstrip("/")
    return f"{base}{ICS_PATH.format(public_id=booking_public_id)}?sig={signature}"


def verify_ics_signature(settings: Settings, booking_public_id: str, signature: str | None) -> bool:
    if not signature or not booking_public_id:
        return False
    expected = ics_signature(settings.secret_key.get_secret_value(), booking_public_id)
    return hmac.compare_digest(expected.encode(), signature.encode())
