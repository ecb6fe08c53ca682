"""The template library: versioned templates in the database, defaults from data/templates/."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from candor.audit import service as audit
from candor.ids import RowId
from candor.models import Job, Team
from candor.models.enums import Decision, Locale
from candor.models.outreach import MessageTemplate
from candor.outreach import sms_form
from candor.outreach.errors import TemplateVersionConflictError
from candor.outreach.templating import (
    TemplateContext,
    TemplateRenderError,
    TemplateValidationError,
    render,
    saving_problems,
)

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "data" / "templates"


class TemplateIn(BaseModel):
    """A template as an admin (or a defaults file) submits it."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    outcome: Decision
    locale: Locale
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1)
    wechat_template_id: str | None = None
    wechat_fields: dict[str, str] = Field(default_factory=dict)
    sms_template_code: str | None = Field(
        default=None,
        max_length=64,
        description="The SMS provider's pre-approved template code (Alibaba SMS_..., Tencent "
        "template id); with `sms_params`, or neither",
    )
    sms_params: dict[str, str] = Field(
        default_factory=dict,
        description="Provider template variable -> Jinja source over the body's variables: "
        'Alibaba\'s variable names, or Tencent\'s positions "1", "2", ...',
    )
    sms_preview_text: str | None = Field(
        default=None,
        max_length=sms_form.MAX_PREVIEW_TEXT_CHARS,
        description="Optional: the approved template's text with ${name} / {1} placeholders, "
        "for previews and SMS segment counts (never sent)",
    )
    team_id: RowId | None = None
    job_id: RowId | None = None

    def template_sources(self) -> TemplateSources:
        return TemplateSources(
            self.subject,
            self.body,
            self.wechat_fields,
            sms_template_code=self.sms_template_code,
            sms_params=self.sms_params,
            sms_preview_text=self.sms_preview_text,
        )

    def sources(self) -> dict[str, str]:
        return self.template_sources().as_fields()


@dataclass(frozen=True, slots=True)
class TemplateSources:
    """The Jinja sources of one template: a stored version, or an editor's unsaved draft."""

    subject: str
    body: str
    wechat_fields: Mapping[str, str]
    # The SMS form (see candor.outreach.sms_form): only the parameters are Jinja sources.
    sms_template_code: str | None = None
    sms_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sms_preview_text: str | None = None

    @classmethod
    def of(cls, template: MessageTemplate) -> TemplateSources:
        return cls(
            template.subject,
            template.body,
            template.wechat_fields,
            sms_template_code=template.sms_template_code,
            sms_params=template.sms_params,
            sms_preview_text=template.sms_preview_text,
        )

    def as_fields(self) -> dict[str, str]:
        """Field name -> source, the names that validation problems use."""
        return {
            "subject": self.subject,
            "body": self.body,
            **{f"wechat_fields.{name}": src for name, src in self.wechat_fields.items()},
            **{sms_form.field_name(name): src for name, src in self.sms_params.items()},
        }

    def sms_problems(self) -> list[str]:
        """The SMS form's shape; its rendered values are checked by `saving_problems`."""
        return sms_form.form_problems(
            self.sms_template_code, self.sms_params, self.sms_preview_text
        )

    def saving_problems(self) -> list[str]:
        """Everything that stops these sources being saved (CPU-bound: off the event loop)."""
        problems = saving_problems(self.as_fields()) + self.sms_problems()
        if not problems and self.sms_params:
            problems = sms_form.rendered_value_problems(self.sms_params)
        return problems


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    body: str
    wechat_data: dict[str, str]
    sms_params: dict[str, str] = dataclasses.field(default_factory=dict)
    # The provider's approved text filled with `sms_params`, when the template gives it.
    sms_text: str | None = None


async def save_template(session: AsyncSession, data: TemplateIn, *, actor: str) -> MessageTemplate:
    """Validate and store a new version of `data.key`; the previous version stops being current.

    Raises TemplateValidationError listing every problem (sources and scope), before
    anything is written. A template that fails to render for any sample context (see
    `candor.outreach.templating.sample_contexts`) is refused naming the first such sample.
    """
    # Compiling and rendering the sample matrix take tens of milliseconds: off the event loop.
    problems = await asyncio.to_thread(data.template_sources().saving_problems)
    problems += await _scope_problems(session, data)
    if problems:
        raise TemplateValidationError(problems)
    latest = await session.scalar(
        select(func.max(MessageTemplate.version)).where(MessageTemplate.key == data.key)
    )
    previous = await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.key == data.key, MessageTemplate.is_current.is_(True)
        )
    )
    before = _audited_fields(previous) if previous is not None else None
    await session.execute(
        update(MessageTemplate)
        .where(MessageTemplate.key == data.key, MessageTemplate.is_current.is_(True))
        .values(is_current=False)
    )
    template = MessageTemplate(
        key=data.key,
        version=(latest or 0) + 1,
        outcome=data.outcome,
        locale=data.locale,
        team_id=data.team_id,
        job_id=data.job_id,
        subject=data.subject,
        body=data.body,
        wechat_template_id=data.wechat_template_id,
        wechat_fields=dict(data.wechat_fields),
        sms_template_code=data.sms_template_code,
        sms_params=dict(data.sms_params),
        sms_preview_text=data.sms_preview_text,
        is_current=True,
        created_by=actor,
    )
    try:
        async with session.begin_nested():
            session.add(template)
    except IntegrityError as exc:
        # Someone saved this key at the same moment and took the version number.
        raise TemplateVersionConflictError(
            f"template {data.key} was saved by someone else meanwhile; reload and save again"
        ) from exc
    audit.record(
        session,
        actor=actor,
        action=audit.Action.TEMPLATE_SAVED,
        object_type="template",
        object_id=data.key,
        team_id=data.team_id,
        before=before,
        after=_audited_fields(template),
    )
    return template


def _audited_fields(template: MessageTemplate) -> dict[str, Any]:
    return {
        "version": template.version,
        "subject": template.subject,
        "body": template.body,
        "wechat_fields": dict(template.wechat_fields),
        "sms_template_code": template.sms_template_code,
        "sms_params": dict(template.sms_params),
        "sms_preview_text": template.sms_preview_text,
    }


async def select_template(
    session: AsyncSession,
    *,
    outcome: Decision,
    locale: Locale,
    team_id: int,
    job_id: int,
) -> MessageTemplate | None:
    """The most specific current template: job, then team, then company-wide; the
    candidate's locale first, then zh-CN, the default locale."""
    candidates = (
        await session.scalars(
            select(MessageTemplate).where(
                MessageTemplate.outcome == outcome,
                MessageTemplate.is_current.is_(True),
                (MessageTemplate.job_id.is_(None)) | (MessageTemplate.job_id == job_id),
                (MessageTemplate.team_id.is_(None)) | (MessageTemplate.team_id == team_id),
            )
        )
    ).all()

    def rank(template: MessageTemplate) -> tuple[int, int]:
        scope = 0 if template.job_id is not None else 1 if template.team_id is not None else 2
        return (0 if template.locale == locale else 1, scope)

    eligible = [t for t in candidates if t.locale in (locale, Locale.ZH_CN)]
    return min(eligible, key=rank, default=None)


async def _scope_problems(session: AsyncSession, data: TemplateIn) -> list[str]:
    """A team or job scope must name rows that exist, and a job must belong to the team."""
    problems = []
    if data.team_id is not None and await session.get(Team, data.team_id) is None:
        problems.append(f"team_id: no team {data.team_id}")
    if data.job_id is not None:
        job = await session.get(Job, data.job_id)
        if job is None:
            problems.append(f"job_id: no job {data.job_id}")
        elif data.team_id is not None and job.team_id != data.team_id:
            problems.append(f"job_id: job {data.job_id} is not in team {data.team_id}")
    return problems


def render_sources(sources: TemplateSources, context: TemplateContext) -> RenderedMessage:
    """Every field rendered; TemplateRenderError names the field that failed."""
    rendered: dict[str, str] = {}
    for field, source in sources.as_fields().items():
        try:
            rendered[field] = render(source, context)
        except TemplateRenderError as exc:
            raise exc.in_field(field) from exc
    sms_params = {name: rendered[sms_form.field_name(name)] for name in sources.sms_params}
    return RenderedMessage(
        subject=rendered["subject"],
        body=rendered["body"],
        wechat_data={name: rendered[f"wechat_fields.{name}"] for name in sources.wechat_fields},
        sms_params=sms_params,
        sms_text=(
            sms_form.fill(sources.sms_preview_text, sms_params)
            if sources.sms_preview_text
            else None
        ),
    )


def read_template_file(path: Path) -> TemplateIn:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TemplateIn.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateValidationError([f"{path.name}: {exc}"]) from exc


async def load_default_templates(
    session: AsyncSession, directory: Path = DEFAULT_TEMPLATES_DIR
) -> list[MessageTemplate]:
    """Store the shipped defaults whose key has no version yet; admins' edits are kept."""
    # A handful of small files read once at start-up; not worth a thread hop.
    paths = sorted(directory.glob("*.yaml"))  # noqa: ASYNC240
    files = [read_template_file(path) for path in paths]
    existing = set((await session.scalars(select(MessageTemplate.key).distinct())).all())
    loaded = []
    for data in files:
        if data.key not in existing:
            loaded.append(await save_template(session, data, actor="system:defaults"))
    return loaded
