"""What the SMS channel needs from a provider, and how a provider's codes become outcomes.

A provider (Alibaba Cloud, Tencent Cloud) is a blocking client: its SDK speaks HTTP through
`requests`, so the channel runs `send` in a thread. It answers `Accepted` with the provider's
message id, `Refused` with the provider's code, or raises `ProviderUnavailable` for a network
error, a timeout or a 5xx (always retried).

Each provider has a table of its codes (`CodeTable`): a code is either permanent (this text
will never be taken as it is: the dispatcher falls back to the candidate's next channel) or
retried after a delay. Codes not in the table are matched by prefix, then by the table's
default; see docs/channels.md for the tables and why each code is where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from candor.clock import BUSINESS_TZ
from candor.delivery.ports import Permanent, RetryAfter

NEXT_DAY = -1.0  # a retry delay meaning "when the provider's day (China time) starts again"
SOON = 30.0  # a passing fault on the provider's side
LATER = 3600.0  # something an operator fixes (balance, account): hold the text meanwhile
UNKNOWN_CODE_RETRY = 600.0


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    message: str


class ProviderUnavailable(Exception):  # noqa: N818 - a condition, like the SDKs' own
    """The provider could not be asked (network, timeout, 5xx): retry later."""


class SmsProviderClient(Protocol):
    name: str
    codes: CodeTable

    def parameter_problem(self, template_code: str, params: Mapping[str, str]) -> str | None:
        """Why these parameters cannot be sent to this provider, or None."""

    def send(
        self, *, number: str, template_code: str, params: Mapping[str, str], reference: str
    ) -> Accepted | Refused:
        """Send one text, blocking; raises ProviderUnavailable when the provider cannot be asked."""


@dataclass(frozen=True, slots=True)
class CodeTable:
    """A provider's codes: permanent ones with their meaning, retried ones with their delay
    (seconds, or NEXT_DAY) and meaning; prefixes for families of codes; and the default."""

    provider: str
    permanent: Mapping[str, str]
    retry: Mapping[str, tuple[float, str]]
    prefixes: Mapping[str, tuple[float | None, str]]  # None: permanent
    default: tuple[float | None, str] = (UNKNOWN_CODE_RETRY, "unknown code: retried")

    def classify(self, code: str, message: str, now: datetime) -> RetryAfter | Permanent:
        if code in self.permanent:
            return Permanent(f"{self.provider} {code}: {self.permanent[code]} ({message})")
        delay: float | None
        if code in self.retry:
            delay, meaning = self.retry[code]
        else:
            prefix = next((p for p in self.prefixes if code.startswith(p)), None)
            delay, meaning = self.prefixes[prefix] if prefix is not None else self.default
        if delay is None:
            return Permanent(f"{self.provider} {code}: {meaning} ({message})")
        seconds = seconds_to_next_day(now) if delay == NEXT_DAY else delay
        return RetryAfter(seconds, f"{self.provider} {code}: {meaning} ({message})")


def seconds_to_next_day(now: datetime) -> float:
    """Seconds until the next midnight in China, when the providers' daily counts restart."""
    local = now.astimezone(BUSINESS_TZ)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), BUSINESS_TZ)
    return (midnight - local).total_seconds()
