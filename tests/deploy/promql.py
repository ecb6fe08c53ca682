"""The agreed metric names and labels (issue 17), and what a PromQL expression uses of them.

Rules and dashboard panels may only use these metrics (plus Prometheus's own `up`), with
their own labels, the target labels Prometheus adds, and `le` on histogram buckets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"

SPEC: dict[str, tuple[str, frozenset[str]]] = {
    "candor_http_request_duration_seconds": (
        HISTOGRAM,
        frozenset({"method", "route", "status"}),
    ),
    "candor_wechat_callback_ack_seconds": (HISTOGRAM, frozenset()),
    "candor_deliveries_total": (COUNTER, frozenset({"queue", "channel"})),
    "candor_delivery_retries_total": (COUNTER, frozenset({"queue", "channel", "reason"})),
    "candor_delivery_fallbacks_total": (COUNTER, frozenset({"from_channel", "to_channel"})),
    "candor_delivery_failures_total": (COUNTER, frozenset({"queue", "channel", "reason"})),
    "candor_ambiguous_redeliveries_total": (COUNTER, frozenset({"channel"})),
    "candor_nlu_predictions_total": (COUNTER, frozenset({"engine", "intent"})),
    "candor_nlu_fallbacks_total": (COUNTER, frozenset({"engine"})),
    "candor_handoffs_total": (COUNTER, frozenset({"reason"})),
    "candor_job_duration_seconds": (HISTOGRAM, frozenset({"job_name"})),
    "candor_job_failures_total": (COUNTER, frozenset({"job_name"})),
    "candor_outbox_backlog": (GAUGE, frozenset({"channel"})),
    "candor_outbox_oldest_age_seconds": (GAUGE, frozenset({"channel"})),
    "candor_drafts_awaiting_approval": (GAUGE, frozenset()),
    "candor_sla_items": (GAUGE, frozenset({"state"})),
    "candor_workers_alive": (GAUGE, frozenset()),
    "candor_db_pool_connections": (GAUGE, frozenset({"state"})),
    "candor_db_pool_size": (GAUGE, frozenset()),
    "candor_redis_roundtrip_seconds": (GAUGE, frozenset()),
    "candor_metrics_scrape_errors_total": (COUNTER, frozenset({"source"})),
}
TARGET_LABELS = frozenset({"job", "instance"})
BUILTIN_SERIES = {"up": TARGET_LABELS}  # Prometheus writes it for every target

KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)
GRAFANA_VARIABLES = re.compile(r"\$(__rate_interval|__interval|__range)|\$\{[^}]*\}")


def series_names() -> dict[str, frozenset[str]]:
    """Every series name a query may select, with the labels it carries."""
    names: dict[str, frozenset[str]] = dict(BUILTIN_SERIES)
    for metric, (kind, labels) in SPEC.items():
        with_targets = labels | TARGET_LABELS
        if kind == HISTOGRAM:
            names[f"{metric}_bucket"] = with_targets | {"le"}
            names[f"{metric}_count"] = with_targets
            names[f"{metric}_sum"] = with_targets
        else:
            names[metric] = with_targets
    return names


@dataclass
class Usage:
    metrics: set[str] = field(default_factory=set)
    matcher_labels: dict[str, set[str]] = field(default_factory=dict)
    grouping_labels: set[str] = field(default_factory=set)


def usage(expr: str) -> Usage:
    """The series an expression selects, the labels it matches on, and those it groups by."""
    found = Usage()
    text = GRAFANA_VARIABLES.sub("5m", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    for name, matchers in re.findall(r"([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}", text):
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
        if name:
            found.matcher_labels.setdefault(name, set()).update(labels)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for labels in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text
    ):
        found.grouping_labels.update(label.strip() for label in labels.split(",") if label)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        found.metrics.add(name)
    return found


def problems(expr: str) -> list[str]:
    """What an expression uses that the agreed metrics do not have; empty when all is well."""
    known = series_names()
    all_labels = set().union(*known.values())
    used = usage(expr)
    errors = [f"unknown metric {name}" for name in sorted(used.metrics - known.keys())]
    for name, labels in used.matcher_labels.items():
        if name in known:
            errors += [f"{name} has no label {label}" for label in sorted(labels - known[name])]
    unknown_labels = sorted(used.grouping_labels - all_labels)
    errors += [f"no metric has label {label}" for label in unknown_labels]
    return errors
