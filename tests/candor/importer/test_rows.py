from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, EmailStr, ValidationError

from candor.importer.rows import SPECS, CandidateRow, InterviewRow, Kind, UserRow


def test_columns_mirror_the_documented_formats() -> None:
    assert set(SPECS[Kind.CANDIDATES].columns) == {
        "external_id",
        "name",
        "mobile",
        "email",
        "locale",
        "consent_contact",
        "consent_talent_pool",
        "consent_wechat_subscription",
        "preferred_channels",
    }
    assert set(SPECS[Kind.JOBS].columns) == {
        "external_id",
        "title",
        "team_external_id",
        "location",
        "status",
        "recruiter_email",
    }
    assert set(SPECS[Kind.APPLICATIONS].columns) == {
        "external_id",
        "candidate_external_id",
        "job_external_id",
        "applied_at",
        "stage",
        "status",
    }
    assert set(SPECS[Kind.INTERVIEWS].columns) == {
        "external_id",
        "application_external_id",
        "kind",
        "round",
        "scheduled_at",
        "completed_at",
        "score",
        "summary",
        "strengths",
        "improvements",
        "decision",
        "decided_at",
    }
    assert set(SPECS[Kind.USERS].columns) == {"email", "display_name", "role", "teams"}
    assert set(SPECS[Kind.TEAMS].columns) == {"external_id", "name"}


def test_list_and_bool_columns_are_derived_from_the_models() -> None:
    assert SPECS[Kind.CANDIDATES].bool_columns == {
        "consent_contact",
        "consent_talent_pool",
        "consent_wechat_subscription",
    }
    assert SPECS[Kind.CANDIDATES].list_columns == {"preferred_channels"}
    assert SPECS[Kind.USERS].list_columns == {"teams"}
    assert SPECS[Kind.INTERVIEWS].list_columns == {"strengths", "improvements"}
    assert SPECS[Kind.APPLICATIONS].required == {
        "external_id",
        "candidate_external_id",
        "job_external_id",
        "applied_at",
    }


def test_user_email_is_lower_cased_and_teams_deduplicated() -> None:
    user = UserRow.model_validate(
        {"email": "Wang@Example.COM", "display_name": "王", "role": "admin", "teams": ["a", "a"]}
    )

    assert user.email == "wang@example.com"
    assert user.teams == ["a"]


def test_decided_at_without_a_decision_is_refused() -> None:
    with pytest.raises(ValidationError, match="decided_at is set but decision is empty"):
        InterviewRow.model_validate(
            {
                "external_id": "I1",
                "application_external_id": "A1",
                "kind": "phone",
                "decided_at": "2026-03-01T10:00:00+08:00",
            }
        )


EMAIL_ALPHABET = st.sampled_from(list('abcXYZ019._%+-@ü"<> 例'))
DOMAINS = st.sampled_from(
    ["example.com", "QQ.com", "163.com", "a-b.cn", "-bad.com", "x..y", "localhost", "例子.中国"]
)


@given(
    st.one_of(
        st.text(EMAIL_ALPHABET, max_size=30),
        st.builds("{}@{}".format, st.text(EMAIL_ALPHABET, min_size=1, max_size=70), DOMAINS),
    )
)
def test_import_emails_accept_and_normalise_exactly_as_email_str(address: str) -> None:
    assert _outcome(CandidateRow, {"external_id": "C1", "name": "李雷", "email": address}) == (
        _outcome(_EmailStrOnly, {"email": address})
    )


class _EmailStrOnly(BaseModel):
    email: EmailStr


def _outcome(model: type[BaseModel], data: dict[str, str]) -> str:
    """The normalised address, or the error message, so that both outcomes compare."""
    try:
        return str(model.model_validate(data).model_dump()["email"])
    except ValidationError as exc:
        return f"error: {exc.errors()[0]['msg']}"


# The worst cases for the address and phone patterns: long runs of the characters each part
# accepts, with the separator that would make a backtracking pattern rescan them.
ADVERSARIAL_64K = {
    "word-run-then-at": "a" * 65536 + "@",
    "at-then-word-run": "a@" + "a" * 65536,
    "dotted-local": "a." * 32768 + "@example.com",
    "dotted-domain": "a@" + "a." * 32767,
    "dashed-domain": "a@" + "-." * 32767,
    "digits": "1" * 65536,
    "spaced-digits": "1 " * 32768,
}


@pytest.mark.parametrize("text", ADVERSARIAL_64K.values(), ids=ADVERSARIAL_64K.keys())
@pytest.mark.parametrize("field", ["email", "mobile"])
def test_a_row_with_adversarial_text_is_refused_in_linear_time(field: str, text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValidationError):
        CandidateRow.model_validate({"external_id": "C1", "name": "李雷", field: text})
    assert time.perf_counter() - started < 0.5
