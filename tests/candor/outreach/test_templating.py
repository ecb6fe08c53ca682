from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from candor.models.outreach import MessageTemplate
from candor.outreach.errors import TemplateVersionConflictError
from candor.outreach.templates import DEFAULT_TEMPLATES_DIR, read_template_file, save_template
from candor.outreach.templating import (
    TEMPLATE_VARIABLES,
    TemplateContext,
    TemplateRenderError,
    TemplateValidationError,
    render,
    validate_source,
    validate_template,
)
from candor.runtime import Runtime


def context(**overrides: object) -> TemplateContext:
    values: dict[str, object] = {
        "candidate_name": "李雷",
        "job_title": "后端工程师",
        "company_name": "星河科技",
        "application_code": "AP-2026-000042",
        "interview_date": "2026-03-03",
        "next_steps": "",
        "deadline": "2026-03-10",
        "strengths": ("沟通清晰", "项目经验扎实"),
        "improvements": ("系统设计深度",),
        "talent_pool_invite": True,
    }
    values.update(overrides)
    return TemplateContext(**values)  # type: ignore[arg-type]


def test_unknown_variables_are_refused_at_save_time_naming_each() -> None:
    with pytest.raises(TemplateValidationError) as info:
        validate_template(
            {"body": "{{ candidate_nmae }} {{ salary }}", "subject": "{{ job_title }}"}
        )

    assert info.value.problems == [
        "body: unknown variable {{ candidate_nmae }}",
        "body: unknown variable {{ salary }}",
    ]


def test_syntax_errors_are_refused_with_the_line() -> None:
    problems = validate_source("你好\n{% if strengths %}\n缺少 endif", field="body")

    assert len(problems) == 1
    assert problems[0].startswith("body: syntax error on line 3")


def test_loop_variables_and_filters_are_not_unknown_variables() -> None:
    source = "{% for s in strengths %}{{ loop.index }}. {{ s | upper }}{% endfor %}"
    assert validate_source(source) == []


def test_the_sandbox_refuses_reaching_into_python() -> None:
    source = "{{ candidate_name.__class__.__mro__ }}"
    assert validate_source(source) == []  # only known names are used...
    with pytest.raises(TemplateRenderError):  # ...but the sandbox blocks the attribute walk
        render(source, context())


@pytest.mark.parametrize("path", sorted(DEFAULT_TEMPLATES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_template_is_valid_and_renders(path: Path) -> None:
    template = read_template_file(path)
    validate_template(template.sources())

    body = render(template.body, context())

    assert "李雷" in body or "Dear" in body
    assert "{{" not in body
    assert "{%" not in body


def test_a_rejection_carries_strengths_improvements_and_the_talent_pool_invite() -> None:
    template = read_template_file(DEFAULT_TEMPLATES_DIR / "reject.zh-CN.yaml")

    body = render(template.body, context())
    without_invite = render(template.body, context(talent_pool_invite=False, strengths=()))

    assert "· 沟通清晰" in body
    assert "· 系统设计深度" in body
    assert "人才库" in body
    assert "人才库" not in without_invite
    assert "沟通清晰" not in without_invite


names = st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P", "S"]), max_size=30)


@given(name=names, job=names)
def test_rendering_never_interprets_candidate_data_as_template(name: str, job: str) -> None:
    rendered = render(
        "{{ candidate_name }} / {{ job_title }}", context(candidate_name=name, job_title=job)
    )
    # Whatever the data holds (braces included), it comes out as text, minus outer spaces.
    assert rendered == f"{name} / {job}".strip()


def test_every_variable_is_documented_and_provided() -> None:
    assert set(context().as_variables()) == set(TEMPLATE_VARIABLES)


async def test_concurrent_saves_of_one_key_never_share_a_version(runtime: Runtime) -> None:
    data = read_template_file(DEFAULT_TEMPLATES_DIR / "hold.en.yaml")

    async def save(actor: str) -> int | str:
        try:
            async with runtime.transaction() as session:
                template = await save_template(session, data, actor=actor)
                await asyncio.sleep(0.05)  # both transactions overlap
                return template.version
        except TemplateVersionConflictError as exc:
            return exc.code

    outcomes = await asyncio.gather(save("user:1"), save("user:2"))

    versions = [o for o in outcomes if isinstance(o, int)]
    assert len(versions) == len(set(versions)) >= 1
    assert all(o == "template_conflict" for o in outcomes if not isinstance(o, int))
    async with runtime.sessionmaker() as session:
        current = (
            await session.scalars(
                select(MessageTemplate).where(
                    MessageTemplate.key == data.key, MessageTemplate.is_current.is_(True)
                )
            )
        ).all()
    assert len(current) == 1
