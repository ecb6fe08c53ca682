"""The candidate's calendar file link: `/api/v1/scheduling/bookings/<public id>.ics?sig=…`.

No login opens it, so the link carries its own authority: an HMAC-SHA256 of the booking's
public id under the app's secret key. A link cannot be made for a booking without the key,
and a changed id or signature opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac

from candor.settings import Settings

ICS_PATH = "/api/v1/scheduling/bookings/{public_id}.ics"


def _signature(settings: Settings, public_id: str) -> str:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, public_id.encode(), hashlib.sha256).hexdigest()


def ics_url(settings: Settings, public_id: str) -> str:
    """The absolute link to the booking's .ics, for messages to the candidate."""
    base = settings.public_url.rstrip("/")
    path = ICS_PATH.format(public_id=public_id)
    return f"{base}{path}?sig={_signature(settings, public_id)}"


def verify_ics_signature(settings: Settings, public_id: str, sig: str | None) -> bool:
    if not sig or not public_id:
        return False
    return hmac.compare_digest(_signature(settings, public_id).encode(), sig.encode())
