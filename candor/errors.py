"""The one base of the errors a domain service raises for its caller to report.

`code` is stable and machine-readable (clients branch on it), `http_status` is what the API
answers, `message` is for people and `details` is optional structure (a list of problems, a
field map). Each family sets `code` and `http_status` as class attributes; one raise may
override either. `api/errors.py` turns any of them into the API's error JSON, so a route
does not map domain errors by hand, and an unmapped one is never a 500.
"""

from __future__ import annotations

from typing import Any


class CandorError(Exception):
    code: str = "error"
    http_status: int = 400

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
