"""What each kind of import file holds: one pydantic model per kind, whose fields are the columns.

The models reuse the ATS event types, so a value the event API refuses is refused here too.
Everything the reader and the writer need to know about a kind is derived from its model, so
adding a column means adding a field and nothing else.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Self

import email_validator
from pydantic import AfterValidator, AwareDatetime, Field, PlainValidator, model_validator
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from candor.ats.schemas import (
    CandidateIn,
    ExternalId,
    InterviewReport,
    JobRef,
    ShortText,
    StrictModel,
)
from candor.models.enums import (
    ApplicationStatus,
    Decision,
    InterviewKind,
    JobStatus,
    Role,
    Stage,
)


class Kind(StrEnum):
    """The kinds in the order a migration should load them, each referring only to earlier ones."""

    TEAMS = "teams"
    USERS = "users"
    JOBS = "jobs"
    CANDIDATES = "candidates"
    APPLICATIONS = "applications"
    INTERVIEWS = "interviews"


# A plain dot-atom address: every address this matches is one email-validator accepts if it
# accepts the domain. email-validator spends most of its time on the domain (two thirds of the
# time spent reading a candidates file), and an import has many addresses but few domains.
_PLAIN_ADDRESS = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_MAX_LOCAL_PART, _MAX_ADDRESS = 64, 254


@lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str | None:
    try:
        return str(email_validator.validate_email(f"x@{domain}", check_deliverability=False).domain)
    except email_validator.EmailNotValidError:
        return None


def _email(value: object) -> str:
    """The same addresses and the same normalised value as pydantic's EmailStr, faster.

    Anything but a plain address takes EmailStr's own path, so its error messages are kept.
    """
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    plain = _PLAIN_ADDRESS.fullmatch(value)
    if plain is not None and len(plain["local"]) <= _MAX_LOCAL_PART and len(value) <= _MAX_ADDRESS:
        domain = _normalized_domain(plain["domain"])
        if domain is not None:
            return f"{plain['local']}@{domain}"
    return validate_email(value)[1]


Email = Annotated[str, PlainValidator(_email)]
# HR users sign in by e-mail, and the ATS service looks them up lower-cased.
LowerEmail = Annotated[Email, AfterValidator(str.lower)]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class TeamRow(StrictModel):
    external_id: ExternalId
    name: ShortText


class UserRow(StrictModel):
    email: LowerEmail
    display_name: ShortText
    role: Role
    # A row that leaves this out keeps the user's memberships; one that gives it replaces them.
    teams: Annotated[list[ExternalId], AfterValidator(_unique)] = Field(default_factory=list)


class CandidateRow(CandidateIn):
    # The event API's candidate, with the faster e-mail check that accepts the same addresses.
    email: Email | None = None


class JobRow(JobRef):
    recruiter_email: LowerEmail | None = None
    status: JobStatus = JobStatus.OPEN


class ApplicationRow(StrictModel):
    external_id: ExternalId
    candidate_external_id: ExternalId
    job_external_id: ExternalId
    applied_at: AwareDatetime
    stage: Stage = Stage.APPLIED
    status: ApplicationStatus = ApplicationStatus.ACTIVE


class InterviewRow(InterviewReport):
    external_id: ExternalId
    application_external_id: ExternalId
    kind: InterviewKind
    round: int = Field(default=1, ge=1, le=20)
    scheduled_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    score: float | None = Field(default=None, ge=0, le=100)
    decision: Decision | None = None
    decided_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _decided_at_needs_a_decision(self) -> Self:
        if self.decided_at is not None and self.decision is None:
            raise ValueError("decided_at is set but decision is empty")
        return self


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: Kind
    model: type[StrictModel]
    # The column rows are upserted by: an external id, or the e-mail for HR users.
    key: str
    columns: tuple[str, ...]
    required: frozenset[str]
    bool_columns: frozenset[str]
    list_columns: frozenset[str]

    def key_of(self, row: StrictModel) -> str:
        return str(getattr(row, self.key))


def _spec(kind: Kind, model: type[StrictModel], key: str) -> KindSpec:
    fields = model.model_fields
    return KindSpec(
        kind=kind,
        model=model,
        key=key,
        columns=tuple(fields),
        required=frozenset(name for name, field in fields.items() if field.is_required()),
        bool_columns=frozenset(name for name, field in fields.items() if field.annotation is bool),
        list_columns=frozenset(
            name for name, field in fields.items() if typing.get_origin(field.annotation) is list
        ),
    )


SPECS: dict[Kind, KindSpec] = {
    Kind.TEAMS: _spec(Kind.TEAMS, TeamRow, "external_id"),
    Kind.USERS: _spec(Kind.USERS, UserRow, "email"),
    Kind.JOBS: _spec(Kind.JOBS, JobRow, "external_id"),
    Kind.CANDIDATES: _spec(Kind.CANDIDATES, CandidateRow, "external_id"),
    Kind.APPLICATIONS: _spec(Kind.APPLICATIONS, ApplicationRow, "external_id"),
    Kind.INTERVIEWS: _spec(Kind.INTERVIEWS, InterviewRow, "external_id"),
}
