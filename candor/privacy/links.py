"""The data-export link's shape, and keeping its token out of what Candor stores.

The chat reply that hands a candidate their link is the only place Candor writes the token in
plain text: the transcript and WeChat's retry copy in Redis keep the reply with the token
masked (`mask_export_links`), and the logs mask it in any URL (`candor.logging`), so nobody
who reads the conversation, Redis or the logs can use the link before the candidate.
"""

from __future__ import annotations

import re

DOWNLOAD_PATH = "/privacy/exports/"
MASK = "[single-use link]"
_LINK_TOKEN = re.compile(re.escape(DOWNLOAD_PATH) + r"[A-Za-z0-9_-]{16,64}")


def mask_export_links(text: str) -> str:
    return _LINK_TOKEN.sub(DOWNLOAD_PATH + MASK, text) if DOWNLOAD_PATH in text else text
