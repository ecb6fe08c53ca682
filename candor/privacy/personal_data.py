"""Where a candidate's personal data lives: the one declarative list the erasure runs.

Each `Rule` names a table, which of its rows are the candidate's (`Rows`, over the erasure's
working set, `Subject`) and what becomes of them: each personal column gets a `Wipe`, or
the rows are deleted when nothing counts them. Rows are anonymised in place rather than
deleted wherever a KPI fact is derived from them (migration 0009): the facts read ids,
times and states, never these columns, so the dashboards keep their figures.

Every text or JSON column of every table is either wiped by a rule here or declared in
`NOT_CANDIDATE_DATA` with the reason; tests/candor/privacy/test_personal_data.py fails when
a model gains a column that is neither, so a new personal column cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Wipe(StrEnum):
    NULL = "null"
    EMPTY = "empty"  # "" for a NOT NULL text
    EMPTY_OBJECT = "empty_object"  # {} for a JSON object
    EMPTY_LIST = "empty_list"  # [] for a JSON list
    ERASED = "erased"  # the placeholder text, for a NOT NULL text that is shown
    UNIQUE = "unique"  # "<prefix><row id>", for a NOT NULL UNIQUE text
    REDACT_NEEDLES = "redact_needles"  # only the candidate's identifiers, inside JSON
    REDACT_STRINGS = "redact_strings"  # every string inside JSON; keys and numbers stay
    # A webhook event's payload: every string of its `data`; the envelope (type, id, time)
    # stays, so a delivery still pending sends a well-formed event.
    REDACT_EVENT_DATA = "redact_event_data"
    # An ATS id: its keyed hash (candor.privacy.tombstones), unique as the id was, so an
    # ATS event for the old id is refused rather than re-creating the candidate.
    TOMBSTONE = "tombstone"


ERASED_TEXT = "[erased]"


@dataclass(frozen=True, slots=True)
class Rows:
    """The candidate's rows of a table: any of `by` (column IN the working set's ids named
    by the key), or whose `matching` columns quote one of the candidate's identifiers (a
    whole JSON value, or a long one as a whole token: `candor.privacy.erasure.Redaction`)."""

    by: Mapping[str, str] = field(default_factory=dict)  # column -> Subject key
    matching: tuple[str, ...] = ()
    # Extra SQL-free conditions the erasure knows: audit rows about the candidate's objects.
    audit_objects: bool = False
    # chat_deliveries: a delivery of one of the candidate's transcript messages.
    transcript_deliveries: bool = False
    # webhook deliveries and attempts of the candidate's events.
    webhook_event_children: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    table: str
    rows: Rows
    wipe: Mapping[str, Wipe] = field(default_factory=dict)
    delete: bool = False
    unique_prefix: str = "erased-"


def _by(**columns: str) -> Rows:
    return Rows(by=columns)


# In order: the identifying columns and what could still reach or bind the candidate (a
# binding link, an export link, a manual binding), which the erasure's first step does at
# once (`candor.privacy.erasure.START_RULES`), then the rest.
RULES: tuple[Rule, ...] = (
    Rule(
        "candidates",
        _by(id="candidate"),
        {
            "external_id": Wipe.TOMBSTONE,
            "name": Wipe.ERASED,
            "mobile": Wipe.NULL,
            "email": Wipe.NULL,
            # Keyed hashes of the phone and e-mail: whoever holds the key could still test
            # a number against them.
            "mobile_index": Wipe.NULL,
            "email_index": Wipe.NULL,
            "preferred_channels": Wipe.EMPTY_LIST,
            "time_zone": Wipe.NULL,  # where they live
        },
    ),
    Rule(
        "applications",
        _by(id="applications"),
        {"code": Wipe.UNIQUE, "external_id": Wipe.TOMBSTONE},
        unique_prefix="X-",
    ),
    Rule(
        "chat_identities",
        _by(id="identities"),
        {"external_user_id": Wipe.UNIQUE, "external_user_id_index": Wipe.NULL},
    ),
    Rule("binding_tokens", _by(application_id="applications"), delete=True),
    # Copies of their data they asked for, and the record of the notices they were shown:
    # nothing counts them, and the copy is all of their data.
    Rule("data_exports", _by(candidate_id="candidate"), delete=True),
    Rule("privacy_notices_shown", _by(candidate_id="candidate"), delete=True),
    Rule("manual_bindings", _by(application_id="applications"), delete=True),
    Rule(
        "interviews",
        _by(application_id="applications"),
        {
            "external_id": Wipe.UNIQUE,
            "report_summary": Wipe.NULL,
            "strengths": Wipe.EMPTY_LIST,
            "improvements": Wipe.EMPTY_LIST,
            "next_steps": Wipe.NULL,
        },
    ),
    Rule(
        "chat_messages",
        _by(conversation_id="conversations", candidate_id="candidate"),
        {"text": Wipe.NULL, "payload": Wipe.NULL},
    ),
    # What anyone wrote about them elsewhere (an account never bound, another thread):
    # only their identifiers go. A scan of the whole transcript table, once per erasure.
    Rule(
        "chat_messages",
        Rows(matching=("text", "payload")),
        {"text": Wipe.REDACT_NEEDLES, "payload": Wipe.REDACT_NEEDLES},
    ),
    Rule(
        "chat_identity_events",
        _by(chat_identity_id="identities", candidate_id="candidate"),
        {"details": Wipe.EMPTY_OBJECT},
    ),
    Rule("dialogue_states", _by(conversation_id="conversations"), delete=True),
    Rule("nlu_review_items", _by(conversation_id="conversations"), delete=True),
    Rule(
        "hr_tasks",
        _by(
            candidate_id="candidate", application_id="applications", conversation_id="conversations"
        ),
        {"details": Wipe.EMPTY_OBJECT},
    ),
    Rule(
        "job_questions",
        _by(conversation_id="conversations", candidate_id="candidate"),
        {"question": Wipe.EMPTY, "draft": Wipe.NULL, "answer": Wipe.NULL},
    ),
    Rule(
        "chat_deliveries",
        Rows(matching=("recipient",), transcript_deliveries=True),
        {
            "recipient": Wipe.EMPTY,
            "recipient_index": Wipe.NULL,
            "subject": Wipe.EMPTY,
            "body": Wipe.EMPTY,
            "last_error": Wipe.NULL,
        },
    ),
    Rule(
        "outreach_messages",
        _by(application_id="applications"),
        {
            "subject": Wipe.EMPTY,
            "body": Wipe.EMPTY,
            "wechat_data": Wipe.EMPTY_OBJECT,
            "sms_params": Wipe.EMPTY_OBJECT,
            "rejection_reason": Wipe.NULL,
            "render_error": Wipe.NULL,
        },
    ),
    Rule(
        "message_transitions",
        _by(message_id="messages"),
        {
            "reason": Wipe.NULL,
            "before_text": Wipe.NULL,
            "after_text": Wipe.NULL,
            "details": Wipe.EMPTY_OBJECT,
        },
    ),
    Rule("outbox", _by(message_id="messages"), {"last_error": Wipe.NULL}),
    Rule("sla_notifications", _by(message_id="messages"), {"last_error": Wipe.NULL}),
    Rule("hr_cards", _by(message_id="messages", handoff_id="handoffs"), {"last_error": Wipe.NULL}),
    Rule("webhook_events", _by(ordering_key="ordering_keys"), {"payload": Wipe.REDACT_EVENT_DATA}),
    # Another candidate's event that quotes one of their identifiers: only those go.
    Rule("webhook_events", Rows(matching=("payload",)), {"payload": Wipe.REDACT_NEEDLES}),
    Rule(
        "webhook_deliveries",
        Rows(webhook_event_children="event_id"),
        # The placeholder, not NULL: it marks a delivery the erasure gave up, which resuming
        # a failing endpoint must not queue again (candor.webhooks.service).
        {"last_error": Wipe.ERASED},
    ),
    Rule(
        "webhook_attempts",
        Rows(webhook_event_children="delivery_id"),
        {"response_excerpt": Wipe.NULL, "error": Wipe.NULL},
    ),
    # Who did what stays; what an audit row says about the candidate's objects goes.
    Rule(
        "audit_log",
        Rows(audit_objects=True),
        {
            "before": Wipe.REDACT_STRINGS,
            "after": Wipe.REDACT_STRINGS,
            "details": Wipe.REDACT_STRINGS,
        },
    ),
    # Any other row that quotes one of their identifiers: only the identifiers go.
    Rule(
        "audit_log",
        Rows(matching=("before", "after", "details")),
        {
            "before": Wipe.REDACT_NEEDLES,
            "after": Wipe.REDACT_NEEDLES,
            "details": Wipe.REDACT_NEEDLES,
        },
    ),
    Rule("ats_events", Rows(matching=("response_body",)), {"response_body": Wipe.REDACT_NEEDLES}),
    Rule(
        "idempotency_keys",
        Rows(matching=("response_body",)),
        {"response_body": Wipe.REDACT_NEEDLES},
    ),
    # Self-scheduling (last, so an erasure under way when this was added keeps its steps'
    # numbers). The booking link's token could still reach their application: the first
    # step closes the invitation (`_close_open_work`), which already refuses the link; the
    # token itself goes here. Invitations and bookings stay, anonymous (ids, times, states):
    # the scheduling KPIs count them. What HR wrote about a booking is in the audit rows of
    # the booking (AUDIT_OBJECTS) and the webhook events, both redacted above.
    Rule("scheduling_invitations", _by(application_id="applications"), {"token": Wipe.UNIQUE}),
)

# The audit rows about these objects are the candidate's (object_type -> Subject key).
AUDIT_OBJECTS: Mapping[str, str] = {
    "candidate": "candidate",
    "application": "applications",
    "message": "messages",
    "conversation": "conversations",
    "chat_identity": "identities",
    "job_question": "job_questions",
    "hr_task": "hr_tasks",
    "booking": "bookings",
}

# Emptied by the step that finishes the erasure (candor.privacy.erasure.finish): the
# working set holds the identifiers until then, and the hold's reason is an admin's words.
ERASED_ON_COMPLETION: Mapping[str, frozenset[str]] = {
    "deletion_requests": frozenset({"subject", "legal_hold_reason"}),
}

# Text and JSON columns that hold no candidate's personal data, table by table. Enum
# columns are vocabularies and need no entry.
NOT_CANDIDATE_DATA: Mapping[str, frozenset[str]] = {
    # Employees' and the company's own data, not a candidate's.
    "teams": frozenset({"external_id", "name"}),
    "hr_users": frozenset({"email", "display_name", "password_hash", "locale"}),
    "hr_chat_accounts": frozenset({"external_id"}),
    "jobs": frozenset({"external_id", "title", "location"}),
    "job_answers": frozenset({"topic", "answer", "approved_by"}),
    "message_templates": frozenset(
        {
            "key",
            "subject",
            "body",
            "wechat_template_id",
            "wechat_fields",
            "sms_template_code",
            "sms_params",
            "sms_preview_text",
            "created_by",
        }
    ),
    "api_tokens": frozenset({"name", "token_hash", "scopes"}),
    "webhook_endpoints": frozenset(
        {
            "url",
            "description",
            "event_types",
            "secret",
            "previous_secret",
            "disabled_reason",
            "created_by",
        }
    ),
    "calendar_days": frozenset({"name", "source"}),
    "calendar_years": frozenset({"source", "reference"}),
    "calendar_changes": frozenset({"action", "source", "detail"}),
    "code_sequences": frozenset({"prefix"}),
    # The re-encryption's progress: table names and key ids.
    "encryption_checkpoints": frozenset({"table_name", "target_key_id"}),
    "encryption_key_ids": frozenset({"key_id"}),
    "nlu_models": frozenset(
        {
            "fingerprint",
            "base_fingerprint",
            "eval_digest",
            "figures",
            "baseline_figures",
            "trained_by",
            "decided_by",
        }
    ),
    "nlu_active_model": frozenset({"changed_by"}),
    # KPI facts: ids, days and vocabularies only.
    "kpi_application_facts": frozenset({"stage"}),
    "kpi_csat_facts": frozenset({"outcome"}),
    "kpi_delivery_facts": frozenset({"channel", "state"}),
    # Actors ("user:12", "system:chat"), machine ids and keys of rows that are erased above.
    "ats_events": frozenset({"event_id", "event_type", "body_sha256"}),
    "idempotency_keys": frozenset({"principal", "key", "request_sha256"}),
    "audit_log": frozenset({"actor", "action", "object_type", "object_id"}),
    "stage_changes": frozenset({"source"}),
    "chat_messages": frozenset({"event", "provider_message_id", "author"}),
    "chat_identity_events": frozenset({"actor", "via"}),
    "handoffs": frozenset({"reason", "closed_by"}),
    "hr_tasks": frozenset({"done_by"}),
    "job_questions": frozenset({"topic", "decided_by"}),
    "chat_deliveries": frozenset({"provider_message_id"}),
    "outreach_messages": frozenset({"decided_by"}),
    "message_transitions": frozenset({"actor"}),
    "outbox": frozenset({"idempotency_key", "claimed_by", "provider_message_id"}),
    "hr_cards": frozenset({"subject_key", "token", "decided_by", "decision", "platform_ref"}),
    "webhook_events": frozenset({"public_id", "ordering_key"}),
    "webhook_deliveries": frozenset({"ordering_key", "claimed_by"}),
    "deletion_requests": frozenset(
        {"requested_by", "via", "legal_hold_by", "closed_by", "progress"}
    ),
    # Self-scheduling: HR's slots and policies (interviewers are employees), and of a
    # booking only its random public id and actors ("candidate", "user:12", "system").
    "interview_slots": frozenset(
        {
            "location",
            "video_link",
            "interviewers",
            "time_zone",
            "external_uid",
            "created_by",
        }
    ),
    "scheduling_policies": frozenset({"preparation"}),
    "interview_bookings": frozenset({"public_id", "booked_by", "ended_by", "attendance_by"}),
}
