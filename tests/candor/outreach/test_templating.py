from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from candor.models.outreach import MessageTemplate
from candor.outreach.errors import TemplateVersionConflictError
from candor.outreach.templates import DEFAULT_TEMPLATES_DIR, read_template_file, save_template
from candor.outreach.templating import (
    MAX_RENDER_CPU_SECONDS,
    MAX_RENDERED_CHARS,
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


def refused(source: str) -> tuple[str, float]:
    """The reason `source` is refused, and how long refusing it took."""
    started = time.perf_counter()
    with pytest.raises(TemplateRenderError) as info:
        render(source, context())
    return str(info.value), time.perf_counter() - started


def test_nested_loops_of_a_hundred_million_steps_are_refused_within_a_second() -> None:
    reason, seconds = refused(
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    )

    assert "steps" in reason
    assert seconds < 1.0


def test_a_range_of_a_billion_items_is_refused() -> None:
    reason, _ = refused("{% for i in range(10**9) %}x{% endfor %}")

    assert "range() of more than" in reason


def test_a_forty_megabyte_repetition_is_refused_before_it_is_built() -> None:
    reason, seconds = refused("{{ 'x' * 40000000 }}")

    assert f"would exceed {MAX_RENDERED_CHARS} characters" in reason
    assert seconds < 0.1


def test_output_is_capped_wherever_it_is_written() -> None:
    loop = "{% for i in range(1000) %}{{ 'y' * 1000 }}{% endfor %}"

    assert "the rendered text" in refused(loop)[0]
    assert "the rendered text" in refused("{% set kept %}" + loop + "{% endset %}")[0]
    assert "the rendered text" in refused("{% macro m() %}" + loop + "{% endmacro %}{{ m() }}")[0]


def test_a_render_stops_at_its_cpu_budget() -> None:
    # Few steps, each expensive: only the CPU-time limit stops this one.
    reason, seconds = refused(
        "{% set numbers = range(10000) | list %}"
        "{% for i in range(10000) %}{{ (numbers | join) | length }}{% endfor %}"
    )

    assert "CPU time" in reason
    assert seconds < MAX_RENDER_CPU_SECONDS + 1.0


def test_exponential_recursion_is_refused() -> None:
    reason, seconds = refused(
        "{% macro twice(n) %}{% if n %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}"
        "{% endmacro %}{{ twice(40) }}"
    )

    assert "steps" in reason or "CPU time" in reason
    assert seconds < MAX_RENDER_CPU_SECONDS + 1.0


@pytest.mark.parametrize(
    "source",
    [
        "{% set a = 'x' * 40000 %}{% set b = a ~ a %}{{ b | length }}",
        "{% set a = 'x' * 40000 %}{{ (a + a) | length }}",
        "{% set a = ['x' * 30000] %}{% set b = [a, a] %}{{ b | length }}",
        "{{ [[1] * 40000] * 40000 }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ 'x' | indent(10**9, true) }}",
        "{{ ('x' * 40000) | replace('', 'y' * 40000) }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ range(10000) | join('y' * 10000) }}",
        "{{ [1] | batch(100000, 'y' * 1000) | list }}",
        "{{ 'x'.center(10**9) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 9 ** 999999 }}",
    ],
)
def test_every_way_to_build_a_huge_value_in_one_step_is_refused(source: str) -> None:
    _, seconds = refused(source)

    assert seconds < 0.5


def test_a_runtime_error_is_a_render_error_naming_it() -> None:
    reason, _ = refused("{{ 1 / 0 }}")

    assert reason == "ZeroDivisionError: division by zero"


def test_lipsum_and_unknown_filters_are_refused_when_saved() -> None:
    assert validate_source("{{ candidate_name | no_such_filter }}") == [
        "body: syntax error on line 1: No filter named 'no_such_filter'."
    ]
    assert validate_source("{{ lipsum(100000) }}") == ["body: unknown variable {{ lipsum }}"]


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
