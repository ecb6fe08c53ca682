"""Message templates: validated when saved, rendered in Jinja2's sandbox when drafted.

A template may use only the variables in `TEMPLATE_VARIABLES`. Using any other name, or
invalid syntax, is refused when the template is saved, so a typo can never surface as a
broken message to a candidate. Rendering uses StrictUndefined as a second line of defence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from candor.errors import CandorError

# name -> what it holds, for the template editor and the docs.
TEMPLATE_VARIABLES: Mapping[str, str] = {
    "candidate_name": "the candidate's name",
    "job_title": "the job applied for",
    "company_name": "the employer's name (CANDOR_COMPANY_NAME)",
    "application_code": "the application code, AP-YYYY-NNNNNN",
    "interview_date": "the interview's completion date, local (YYYY-MM-DD)",
    "next_steps": "next-round details from the ATS; empty when there are none",
    "deadline": "the date by which the candidate should reply, local (YYYY-MM-DD)",
    "strengths": "up to three strengths from the interview report (list)",
    "improvements": "one to three improvement points from the interview report (list)",
    "talent_pool_invite": "true when the candidate may be invited to the talent pool",
}

MAX_TEMPLATE_CHARS = 8_000


class TemplateValidationError(CandorError, ValueError):
    """The template cannot be saved; `problems` lists each reason for the editor."""

    code = "invalid_template"
    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the template cannot be used as written", details=problems)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(self.problems)


class TemplateRenderError(CandorError, RuntimeError):
    code = "template_render_failed"
    http_status = 422

    def __init__(self, reason: str) -> None:
        super().__init__(f"the template did not render: {reason}")
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


_environment = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,  # plain text and WeChat fields, never HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


def validate_source(source: str, *, field: str = "body") -> list[str]:
    """Problems with one template source, or an empty list when it can be saved."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [f"{field}: longer than {MAX_TEMPLATE_CHARS} characters"]
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as exc:
        return [f"{field}: syntax error on line {exc.lineno}: {exc.message}"]
    unknown = sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES.keys())
    return [f"{field}: unknown variable {{{{ {name} }}}}" for name in unknown]


def template_problems(sources: Mapping[str, str]) -> list[str]:
    """Every problem with every field of a template (body, subject, WeChat fields)."""
    return [
        problem for field, src in sources.items() for problem in validate_source(src, field=field)
    ]


def validate_template(sources: Mapping[str, str]) -> None:
    """Validate every field of a template (body, subject, WeChat fields) at once."""
    problems = template_problems(sources)
    if problems:
        raise TemplateValidationError(problems)


@dataclass(frozen=True, slots=True)
class TemplateContext:
    candidate_name: str
    job_title: str
    company_name: str
    application_code: str
    interview_date: str
    next_steps: str
    deadline: str
    strengths: tuple[str, ...]
    improvements: tuple[str, ...]
    talent_pool_invite: bool

    def as_variables(self) -> dict[str, Any]:
        return {
            "candidate_name": self.candidate_name,
            "job_title": self.job_title,
            "company_name": self.company_name,
            "application_code": self.application_code,
            "interview_date": self.interview_date,
            "next_steps": self.next_steps,
            "deadline": self.deadline,
            "strengths": list(self.strengths),
            "improvements": list(self.improvements),
            "talent_pool_invite": self.talent_pool_invite,
        }


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Compiling is most of a render's cost; a template's versions are immutable, so a
    source compiles once per process (bounded, as edited templates add new sources)."""
    return _environment.from_string(source)


def render(source: str, context: TemplateContext) -> str:
    try:
        text = _compiled(source).render(context.as_variables())
    except (UndefinedError, SecurityError, TemplateSyntaxError) as exc:
        raise TemplateRenderError(str(exc)) from exc
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
