"""Candor's Prometheus metrics: the one definition of every metric (docs/metrics.md) and the
small recording helpers the delivery loop, the worker, the dialogue engines and the API call.

The metric objects are built on first use, not at import: prometheus_client picks its storage
(in memory, or one file per process in a shared directory) when the first metric is built,
and `configure` (called by the API and the worker at start) must decide that first. Importing
this module therefore costs nothing, and recording into it from a test or a command that
never configured it simply counts in memory.

Every label value is bounded: channels, queues, job names and intents come from enums and
files Candor owns, and free-text reasons are mapped to a few codes (`reason_code`).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

PREFIX = "candor"

# The queues of the one delivery loop (`DeliveryQueue.name`) under their metric names.
QUEUE_LABELS = {"outbox": "outbox", "direct": "chat", "hr_notices": "sla"}

# Bounded reason codes for retries and permanent failures; anything else is `other`.
RETRY_REASONS = (
    "throttled",
    "rate_limited",
    "timeout",
    "network",
    "server_error",
    "quiet_hours",
    "auth",
    "other",
)
FAILURE_REASONS = (
    "unreachable",
    "not_configured",
    "rejected",
    "opted_out",
    "retries_exhausted",
    "auth",
    "other",
)
HANDOFF_REASONS = ("asked", "complaint", "fallback", "other")
NLU_ENGINES = ("embedded", "rasa")

# Checked in order: the first pattern found in the lower-cased reason names its code.
_REASON_PATTERNS: tuple[tuple[str, str], ...] = (
    ("quiet_hours", r"quiet hours"),
    ("throttled", r"rate limit \(shared\)|send limit|system busy"),
    ("rate_limited", r"\b429\b|rate limit|quota|too many"),
    ("timeout", r"timed? ?out|timeout"),
    ("unreachable", r"no longer reachable|not follow|session is gone|no longer bound"),
    ("opted_out", r"opted out|unsubscrib"),
    ("not_configured", r"not configured|no sender|no sms template|has no sms"),
    ("auth", r"token rejected|access_token|login failed|unauthori[sz]ed|\b401\b|\b403\b"),
    ("server_error", r"\bhttp 5\d\d\b|\b5\d\d\b"),
    ("network", r"transport|connect|network|redis:|smtp unavailable|unavailable"),
    ("rejected", r"refused|bad request|\bhttp 4\d\d\b|errcode|invalid|rejected"),
)


@cache
def _reason_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    # Compiled on first use: importing this module stays free for the CLI.
    return tuple((code, re.compile(pattern)) for code, pattern in _REASON_PATTERNS)


def reason_code(reason: str | None, *, allowed: tuple[str, ...]) -> str:
    """A sender's free-text reason as one of `allowed` (`other` when none fits)."""
    text = (reason or "").lower()
    for code, pattern in _reason_patterns():
        if code in allowed and pattern.search(text):
            return code
    return "other"


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    http_request_duration: Histogram
    wechat_callback_ack: Histogram
    deliveries: Counter
    delivery_retries: Counter
    delivery_fallbacks: Counter
    delivery_failures: Counter
    ambiguous_redeliveries: Counter
    nlu_predictions: Counter
    nlu_fallbacks: Counter
    handoffs: Counter
    job_duration: Histogram
    job_failures: Counter
    scrape_errors: Counter


def multiprocess_dir() -> str | None:
    """The shared directory of this host's processes, when multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def host_name() -> str:
    """This host's (container's) name as it appears in the metric file names: without `_`,
    which prometheus_client splits the names on."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def process_identifier() -> str:
    """Names this process's files in the shared directory. The host name is part of it: two
    containers sharing a volume each run Candor as PID 1, and by PID alone would write (and
    overwrite) the same files."""
    return f"{host_name()}-{os.getpid()}"


# A client may send any method token: anything else is one `other` series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_http_children: dict[tuple[str, str, int], Any] = {}


@cache
def metrics() -> Metrics:
    """Every event metric, built once per process (after `configure`, when it was called)."""
    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Histogram,
        disable_created_metrics,
        values,
    )

    # Whichever storage the environment asks for now, even if prometheus_client was imported
    # (and chose) before `configure` set PROMETHEUS_MULTIPROC_DIR; files named by host and
    # process, not by PID alone (`process_identifier`).
    if multiprocess_dir() is not None:
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)  # type: ignore[no-untyped-call]
    else:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    _http_children.clear()  # children of the metrics this call replaces
    # The `_created` series exist in memory only, not in multiprocess mode: leaving them out
    # keeps one process's answer the same as a host's.
    disable_created_metrics()  # type: ignore[no-untyped-call]

    def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(f"{PREFIX}_{name}", doc, labels, registry=registry)

    def histogram(
        name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Histogram:
        return Histogram(f"{PREFIX}_{name}", doc, labels, registry=registry, buckets=buckets)

    return Metrics(
        registry=registry,
        http_request_duration=histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route template.",
            ("method", "route", "status"),
            (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        ),
        wechat_callback_ack=histogram(
            "wechat_callback_ack_seconds",
            "Time from receiving a WeChat message callback to its acknowledgement.",
            (),
            (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0),
        ),
        deliveries=counter("deliveries", "Sends accepted by the provider.", ("queue", "channel")),
        delivery_retries=counter(
            "delivery_retries", "Sends to be tried again later.", ("queue", "channel", "reason")
        ),
        delivery_fallbacks=counter(
            "delivery_fallbacks",
            "Messages moved to the candidate's next channel (none: no channel left).",
            ("from_channel", "to_channel"),
        ),
        delivery_failures=counter(
            "delivery_failures",
            "Sends that failed for good on their channel.",
            ("queue", "channel", "reason"),
        ),
        ambiguous_redeliveries=counter(
            "ambiguous_redeliveries",
            "Sends re-attempted after an unknown outcome (a lease expired mid-send).",
            ("channel",),
        ),
        nlu_predictions=counter(
            "nlu_predictions", "Intents the NLU predicted, by engine.", ("engine", "intent")
        ),
        nlu_fallbacks=counter(
            "nlu_fallbacks", "Turns where the NLU fell back (low confidence).", ("engine",)
        ),
        handoffs=counter("handoffs", "Conversations handed to HR.", ("reason",)),
        job_duration=histogram(
            "job_duration_seconds",
            "Duration of the worker's periodic jobs.",
            ("job_name",),
            (0.01, 0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0),
        ),
        job_failures=counter("job_failures", "Periodic job runs that failed.", ("job_name",)),
        scrape_errors=counter(
            "metrics_scrape_errors",
            "Scrape-time readings (database, Redis, metric files) that failed or timed out.",
            ("source",),
        ),
    )


# --- recording helpers ---------------------------------------------------------------------


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    # The labelled child is kept: looking it up through `labels()` costs more than the
    # observation itself, on every request. The keys are bounded like the labels.
    key = (method, route, status)
    child = _http_children.get(key)
    if child is None:
        label = method if method in HTTP_METHODS else "other"
        child = metrics().http_request_duration.labels(label, route, str(status))
        if label == method:
            _http_children[key] = child
    child.observe(seconds)


def observe_wechat_ack(seconds: float) -> None:
    metrics().wechat_callback_ack.observe(seconds)


def queue_label(queue: str) -> str:
    return QUEUE_LABELS.get(queue, "other")


def delivered(queue: str, channel: str) -> None:
    metrics().deliveries.labels(queue_label(queue), channel).inc()


def retried(queue: str, channel: str, reason: str | None) -> None:
    code = reason_code(reason, allowed=RETRY_REASONS)
    metrics().delivery_retries.labels(queue_label(queue), channel, code).inc()


def failed(queue: str, channel: str, reason: str | None, *, exhausted: bool = False) -> None:
    code = "retries_exhausted" if exhausted else reason_code(reason, allowed=FAILURE_REASONS)
    metrics().delivery_failures.labels(queue_label(queue), channel, code).inc()


def fell_back(from_channel: str, to_channel: str | None) -> None:
    metrics().delivery_fallbacks.labels(from_channel, to_channel or "none").inc()


def ambiguous_redelivery(channel: str) -> None:
    metrics().ambiguous_redeliveries.labels(channel).inc()


_INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def nlu_prediction(
    engine: str, intent: str | None, *, fallback: bool, known: frozenset[str] | None = None
) -> None:
    """One understood turn. An intent outside `known` (the project's domain, when the caller
    has it) or not shaped like an intent name counts as `other`, so a misbehaving NLU server
    cannot grow the label set."""
    name = "nlu_fallback" if fallback or not intent else intent
    if name != "nlu_fallback" and (
        not _INTENT_NAME.match(name) or (known is not None and name not in known)
    ):
        name = "other"
    m = metrics()
    m.nlu_predictions.labels(engine, name).inc()
    if fallback:
        m.nlu_fallbacks.labels(engine).inc()


def handoff(reason: str) -> None:
    metrics().handoffs.labels(reason if reason in HANDOFF_REASONS else "other").inc()


def observe_job(job: str, seconds: float, *, ok: bool) -> None:
    m = metrics()
    m.job_duration.labels(job).observe(seconds)
    if not ok:
        m.job_failures.labels(job).inc()


def scrape_error(source: str, count: int = 1) -> None:
    metrics().scrape_errors.labels(source).inc(count)
