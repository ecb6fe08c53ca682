"""Secrets and signatures, as the Standard Webhooks specification defines them.

A secret is `whsec_` + base64 of 32 random bytes. The signature header is `v1,<base64
HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`; during a rotation's grace
period it carries the signature of the new secret and of the previous one, separated by a
space, so a receiver still holding the previous secret keeps verifying.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature_header(
    signing_secrets: Sequence[str], *, msg_id: str, timestamp: datetime, body: str
) -> str:
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body)
        for secret in signing_secrets
    )


def headers(
    signing_secrets: Sequence[str], *, msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(
            signing_secrets, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
