from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from candor.models.enums import Decision, Locale, Role
from candor.models.outreach import MessageTemplate, MessageTransition, OutreachMessage
from candor.outreach.templates import TemplateIn, save_template
from candor.outreach.templating import TEMPLATE_VARIABLES
from tests.outreach_world import World, hr

URL = "/api/v1/templates"


def reject_template(**changes: Any) -> dict[str, Any]:
    return {
        "key": "reject.zh-CN",
        "outcome": "reject",
        "locale": "zh-CN",
        "subject": "{{ company_name }} 面试结果",
        "body": "{{ candidate_name }} 您好,感谢您应聘 {{ job_title }}。",
        "wechat_fields": {"first": "{{ candidate_name }} 您好"},
        **changes,
    }


async def admin_token(world: World) -> str:
    _, token = await world.member(Role.ADMIN)
    return token


async def template_rows(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(MessageTemplate)) or 0)


async def drafted_rejection(world: World, n: int = 1, team: str = "team-a") -> OutreachMessage:
    await world.applicant(n, team=team)
    await world.decide(n, "reject")
    async with world.runtime.sessionmaker() as session:
        message = await session.scalar(
            select(OutreachMessage).order_by(OutreachMessage.id.desc()).limit(1)
        )
    assert message is not None
    return message


async def test_every_hr_user_lists_the_current_templates_and_filters_them(
    api: httpx.AsyncClient, world: World
) -> None:
    everything = await api.get(URL, headers=hr(world.recruiter_token))
    rejections = await api.get(URL, params={"outcome": "reject"}, headers=hr(world.recruiter_token))
    english = await api.get(
        URL, params={"outcome": "reject", "locale": "en"}, headers=hr(world.recruiter_token)
    )

    assert everything.status_code == 200
    assert [t["key"] for t in everything.json()] == [
        "advance.en",
        "advance.zh-CN",
        "hold.en",
        "hold.zh-CN",
        "reject.en",
        "reject.zh-CN",
    ]
    assert {t["version"] for t in everything.json()} == {1}
    assert [t["key"] for t in rejections.json()] == ["reject.en", "reject.zh-CN"]
    assert [t["key"] for t in english.json()] == ["reject.en"]


async def test_the_editor_gets_every_template_variable(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await api.get(f"{URL}/variables", headers=hr(world.recruiter_token))

    assert response.status_code == 200
    assert [v["name"] for v in response.json()] == list(TEMPLATE_VARIABLES)
    assert all(v["description"] for v in response.json())


async def test_an_admin_saves_a_new_version_and_the_old_one_stops_being_current(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)
    headers = hr(token, "save-1")

    saved = await api.post(URL, json=reject_template(), headers=headers)
    replay = await api.post(URL, json=reject_template(), headers=headers)
    versions = await api.get(f"{URL}/reject.zh-CN/versions", headers=hr(world.recruiter_token))
    current = await api.get(
        URL, params={"outcome": "reject", "locale": "zh-CN"}, headers=hr(world.recruiter_token)
    )

    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    assert saved.json()["is_current"] is True
    assert saved.json()["created_by"].startswith("user:")
    assert replay.json() == saved.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [(v["version"], v["is_current"]) for v in versions.json()] == [(2, True), (1, False)]
    assert [t["id"] for t in current.json()] == [saved.json()["id"]]


async def test_a_new_version_is_what_the_next_draft_uses(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)
    await api.post(URL, json=reject_template(), headers=hr(token, "save-1"))

    message = await drafted_rejection(world)

    assert message.body == "李雷 您好,感谢您应聘 后端工程师。"
    assert message.wechat_data == {"first": "李雷 您好"}


async def test_an_invalid_template_lists_every_problem_and_writes_nothing(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)
    before = await template_rows(world)

    response = await api.post(
        URL,
        json=reject_template(
            subject="{% if %}",
            body="{{ candidate_nmae }} 您好",
            wechat_fields={"keyword1": "{{ salary }}"},
            team_id=999999,
        ),
        headers=hr(token, "bad-1"),
    )
    fixed = await api.post(URL, json=reject_template(), headers=hr(token, "bad-1"))

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_template"
    assert len(error["details"]) == 4
    assert error["details"][0].startswith("subject: syntax error on line 1")
    assert error["details"][1:] == [
        "body: unknown variable {{ candidate_nmae }}",
        "wechat_fields.keyword1: unknown variable {{ salary }}",
        "team_id: no team 999999",
    ]
    # Nothing was written, and the failed request released its Idempotency-Key.
    assert fixed.status_code == 200
    assert await template_rows(world) == before + 1


async def test_a_job_of_another_team_is_refused_as_a_scope(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)
    await world.applicant(1, team="team-b")
    application = await world.application(1)

    response = await api.post(
        URL,
        json=reject_template(
            key="reject.zh-CN.team-a", team_id=world.team.id, job_id=application.job_id
        ),
        headers=hr(token, "scope-1"),
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        f"job_id: job {application.job_id} is not in team {world.team.id}"
    ]


async def test_only_admins_save_templates(api: httpx.AsyncClient, world: World) -> None:
    _, lead_token = await world.member(Role.TEAM_LEAD, world.team)
    before = await template_rows(world)

    responses = [
        await api.post(URL, json=reject_template(), headers=hr(world.recruiter_token, "r")),
        await api.post(URL, json=reject_template(), headers=hr(lead_token, "l")),
    ]

    assert [r.status_code for r in responses] == [403, 403]
    assert responses[0].json()["error"]["code"] == "forbidden"
    assert await template_rows(world) == before


async def test_posts_need_an_idempotency_key(api: httpx.AsyncClient, world: World) -> None:
    token = await admin_token(world)

    response = await api.post(URL, json=reject_template(), headers=hr(token))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"


async def test_another_teams_template_is_invisible_everywhere(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)
    saved = await api.post(
        URL,
        json=reject_template(key="reject.zh-CN.team-b", team_id=world.other_team.id),
        headers=hr(token, "team-b"),
    )
    template_id = saved.json()["id"]
    await world.applicant(1)
    code = (await world.application(1)).code

    listed = await api.get(URL, headers=hr(world.recruiter_token))
    versions = await api.get(
        f"{URL}/reject.zh-CN.team-b/versions", headers=hr(world.recruiter_token)
    )
    preview = await api.post(
        f"{URL}/preview",
        json={"template_id": template_id, "application_code": code},
        headers=hr(world.recruiter_token, "p1"),
    )
    theirs = await api.get(f"{URL}/reject.zh-CN.team-b/versions", headers=hr(world.outsider_token))
    admins = await api.get(URL, headers=hr(token))

    assert "reject.zh-CN.team-b" not in [t["key"] for t in listed.json()]
    assert versions.status_code == 404
    assert preview.status_code == 404
    assert [v["id"] for v in theirs.json()] == [template_id]
    assert "reject.zh-CN.team-b" in [t["key"] for t in admins.json()]


async def test_unknown_keys_are_404(api: httpx.AsyncClient, world: World) -> None:
    response = await api.get(f"{URL}/no.such.key/versions", headers=hr(world.recruiter_token))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_previewing_a_stored_template_shows_what_drafting_wrote_and_writes_nothing(
    api: httpx.AsyncClient, world: World
) -> None:
    message = await drafted_rejection(world)
    code = (await world.application(1)).code
    async with world.runtime.sessionmaker() as session:
        transitions = await session.scalar(select(func.count()).select_from(MessageTransition))

    response = await api.post(
        f"{URL}/preview",
        json={"template_id": message.template_id, "application_code": code},
        headers=hr(world.recruiter_token, "preview-1"),
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["subject"], preview["body"], preview["wechat_data"]) == (
        message.subject,
        message.body,
        message.wechat_data,
    )
    assert preview["outcome"] == "reject"
    assert preview["variables"]["candidate_name"] == "李雷"
    assert preview["variables"]["strengths"] == ["沟通", "逻辑", "学习"]
    async with world.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutreachMessage)) == 1
        assert (
            await session.scalar(select(func.count()).select_from(MessageTransition)) == transitions
        )


async def test_previewing_unsaved_sources(api: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code

    response = await api.post(
        f"{URL}/preview",
        json={
            "application_code": code,
            "outcome": "reject",
            "subject": "{{ company_name }}",
            "body": "{{ candidate_name }}/{{ job_title }}/{{ application_code }}"
            "{% if talent_pool_invite %}/pool{% endif %}",
            "wechat_fields": {"keyword1": "{{ interview_date }}"},
        },
        headers=hr(world.recruiter_token, "inline-1"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["template_id"] is None
    assert response.json()["subject"] == world.runtime.settings.company_name
    assert response.json()["body"] == f"李雷/后端工程师/{code}/pool"
    assert response.json()["wechat_data"] == {"keyword1": "2026-03-03"}


async def test_previewing_invalid_sources_lists_every_problem(
    api: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code

    response = await api.post(
        f"{URL}/preview",
        json={
            "application_code": code,
            "outcome": "advance",
            "subject": "{{ nope }}",
            "body": "{{ candidate_name }} {{ also_nope }}",
        },
        headers=hr(world.recruiter_token, "inline-bad"),
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        "subject: unknown variable {{ nope }}",
        "body: unknown variable {{ also_nope }}",
    ]


async def test_a_template_that_fails_to_render_is_422(api: httpx.AsyncClient, world: World) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code

    response = await api.post(
        f"{URL}/preview",
        json={"application_code": code, "outcome": "advance", "body": "{{ strengths[7] }}"},
        headers=hr(world.recruiter_token, "render-bad"),
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "template_render_failed"


async def test_previewing_needs_an_application_in_my_teams(
    api: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code
    body = {"application_code": code, "outcome": "reject", "body": "{{ candidate_name }}"}

    outsider = await api.post(f"{URL}/preview", json=body, headers=hr(world.outsider_token, "o"))
    unknown = await api.post(
        f"{URL}/preview",
        json={**body, "application_code": "AP-2026-999999"},
        headers=hr(world.recruiter_token, "u"),
    )

    assert outsider.status_code == 404
    assert unknown.status_code == 404


async def test_a_preview_names_exactly_one_source(api: httpx.AsyncClient, world: World) -> None:
    bodies = [
        {"application_code": "AP-2026-000001"},
        {"application_code": "AP-2026-000001", "template_id": 1, "body": "x"},
        {"application_code": "AP-2026-000001", "body": "x"},
        {"application_code": "AP-2026-000001", "template_id": 1, "outcome": "reject"},
    ]

    responses = [
        await api.post(f"{URL}/preview", json=body, headers=hr(world.recruiter_token, f"s{i}"))
        for i, body in enumerate(bodies)
    ]

    assert [r.status_code for r in responses] == [422, 422, 422, 422]
    assert {r.json()["error"]["code"] for r in responses} == {"invalid_request"}


async def preview_inline(
    api: httpx.AsyncClient, world: World, body: str, key: str
) -> httpx.Response:
    await world.applicant(1)
    code = (await world.application(1)).code
    return await api.post(
        f"{URL}/preview",
        json={"application_code": code, "outcome": "advance", "body": body},
        headers=hr(world.recruiter_token, key),
    )


async def test_a_runtime_error_in_a_preview_is_422_naming_it(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await preview_inline(api, world, "{{ 1 / 0 }}", "zero")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "template_render_failed"
    assert "division by zero" in response.json()["error"]["message"]


async def test_previews_that_would_run_or_write_without_bound_are_refused(
    api: httpx.AsyncClient, world: World
) -> None:
    nested = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"

    loops = await preview_inline(api, world, nested, "nested")
    huge = await preview_inline(api, world, "{{ 'x' * 40000000 }}", "huge")

    assert loops.status_code == huge.status_code == 422
    assert "steps" in loops.json()["error"]["message"]
    assert "characters" in huge.json()["error"]["message"]
    assert len(huge.content) < 1000


async def test_the_server_keeps_answering_while_a_heavy_preview_renders(
    api: httpx.AsyncClient, world: World
) -> None:
    # Cheap steps, each expensive: it renders until its CPU budget runs out.
    heavy = (
        "{% set numbers = range(10000) | list %}"
        "{% for i in range(10000) %}{{ (numbers | join) | length }}{% endfor %}"
    )
    await world.applicant(1)
    preview = asyncio.create_task(preview_inline(api, world, heavy, "heavy"))
    slowest, answered = 0.0, 0
    while not preview.done():
        started = time.perf_counter()
        health = await api.get("/healthz")
        slowest = max(slowest, time.perf_counter() - started)
        answered += health.status_code == 200
        await asyncio.sleep(0.01)

    assert (await preview).status_code == 422
    assert "CPU time" in (await preview).json()["error"]["message"]
    assert answered >= 5  # the preview ran for a while, and the server answered meanwhile
    assert slowest < 0.25


@pytest.mark.parametrize(
    ("body", "failing_sample", "error"),
    [
        ("{{ strengths[0] }}", "0 strengths", "no element 0"),
        ("{{ 1 // (improvements | length) }}", "0 improvement points", "ZeroDivisionError"),
        ("{{ next_steps[0] }}", "next_steps empty", "no element 0"),
    ],
)
async def test_a_template_failing_for_a_sample_context_is_refused_and_nothing_is_saved(
    api: httpx.AsyncClient, world: World, body: str, failing_sample: str, error: str
) -> None:
    rows = await template_rows(world)

    response = await api.post(
        URL, json=reject_template(body=body), headers=hr(await admin_token(world), "bad")
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_template"
    [problem] = response.json()["error"]["details"]
    assert problem.startswith("body: fails for the sample with outcome ")
    assert failing_sample in problem
    assert error in problem
    assert await template_rows(world) == rows


async def test_a_template_guarding_its_optional_parts_is_saved(
    api: httpx.AsyncClient, world: World
) -> None:
    guarded = (
        "{{ candidate_name }}{% if strengths %} · {{ strengths[0] }}{% endif %}"
        "{% if improvements %} · {{ 100 // (improvements | length) }}{% endif %}"
    )

    response = await api.post(
        URL, json=reject_template(body=guarded), headers=hr(await admin_token(world), "ok")
    )

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


async def test_templates_are_paged_by_key_within_the_callers_teams(
    api: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        # Sorted between the company-wide keys, and invisible to team A's recruiter.
        await save_template(
            session,
            TemplateIn(
                key="hold.zh-CN.team-b",
                outcome=Decision.HOLD,
                locale=Locale.ZH_CN,
                subject="面试结果",
                body="{{ candidate_name }}，您好",
                team_id=world.other_team.id,
            ),
            actor="test",
        )

    async def page(**params: str | int) -> list[str]:
        answer = await api.get(URL, params=params, headers=hr(world.recruiter_token))
        assert answer.status_code == 200, answer.text
        return [t["key"] for t in answer.json()]

    first = await page(limit=4)
    rest = await page(limit=4, after_key=first[-1])
    assert first == ["advance.en", "advance.zh-CN", "hold.en", "hold.zh-CN"]
    assert rest == ["reject.en", "reject.zh-CN"]
    assert await page(limit=4, after_key=rest[-1]) == []
    assert await page(limit=2, outcome="reject") == ["reject.en", "reject.zh-CN"]
    assert "hold.zh-CN.team-b" not in first + rest
    outsider = await api.get(
        URL, params={"after_key": "hold.zh-CN", "limit": 1}, headers=hr(world.outsider_token)
    )
    assert [t["key"] for t in outsider.json()] == ["hold.zh-CN.team-b"]


async def test_template_versions_are_paged_newest_first(
    api: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        for n in (2, 3):
            await save_template(
                session,
                TemplateIn(
                    key="reject.zh-CN",
                    outcome=Decision.REJECT,
                    locale=Locale.ZH_CN,
                    subject=f"面试结果 {n}",
                    body="{{ candidate_name }}，您好",
                ),
                actor="test",
            )
    path = f"{URL}/reject.zh-CN/versions"

    async def page(**params: int) -> list[int]:
        answer = await api.get(path, params=params, headers=hr(world.recruiter_token))
        assert answer.status_code == 200, answer.text
        return [t["version"] for t in answer.json()]

    assert await page(limit=2) == [3, 2]
    assert await page(limit=2, before_version=2) == [1]
    assert await page(limit=2, before_version=1) == []  # past the last page: empty, not 404
    assert await page() == [3, 2, 1]
    unknown = await api.get(
        f"{URL}/no.such.key/versions",
        params={"before_version": 5},
        headers=hr(world.recruiter_token),
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (URL, {"limit": 0}),
        (URL, {"limit": 501}),
        (URL, {"after_key": ""}),
        (f"{URL}/reject.zh-CN/versions", {"limit": 501}),
        (f"{URL}/reject.zh-CN/versions", {"before_version": 0}),
    ],
)
async def test_template_paging_out_of_bounds_is_a_422(
    api: httpx.AsyncClient, world: World, path: str, params: dict[str, str | int]
) -> None:
    answer = await api.get(path, params=params, headers=hr(world.recruiter_token))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


SMS_FORM: dict[str, Any] = {
    "sms_template_code": "SMS_480215301",
    "sms_params": {"name": "{{ candidate_name }}", "job": "{{ job_title }}"},
    "sms_preview_text": "${name}您好,您应聘的${job}岗位面试结果已出,请查收邮件。回TD退订",
}


async def test_a_template_saved_with_an_sms_form_drafts_its_parameters(
    api: httpx.AsyncClient, world: World
) -> None:
    token = await admin_token(world)

    saved = await api.post(URL, json=reject_template(**SMS_FORM), headers=hr(token, "sms-1"))
    message = await drafted_rejection(world)

    assert saved.status_code == 200, saved.text
    assert {k: saved.json()[k] for k in SMS_FORM} == SMS_FORM
    assert message.sms_params == {"name": "李雷", "job": "后端工程师"}


async def test_a_template_without_an_sms_form_drafts_no_parameters(
    api: httpx.AsyncClient, world: World
) -> None:
    message = await drafted_rejection(world)

    assert message.sms_params == {}


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (
            {"sms_template_code": "SMS_1"},
            "sms_params: a provider template code needs its parameters",
        ),
        (
            {"sms_params": {"name": "{{ candidate_name }}"}},
            "sms_template_code: parameters are given, but no provider template code",
        ),
        (
            {"sms_template_code": "SMS_1", "sms_params": {"name": "{{ salary }}"}},
            "sms_params.name: unknown variable {{ salary }}",
        ),
        (
            {"sms_template_code": "SMS_1", "sms_params": {"name": "{{ strengths[0] }}"}},
            "sms_params.name: fails for the sample with outcome reject, locale zh-CN, 0 strengths",
        ),
        (
            {"sms_template_code": "SMS_1", "sms_params": {"steps": "{{ next_steps }}"}},
            "sms_params.steps: empty for the sample with outcome reject, locale zh-CN",
        ),
        (
            {"sms_template_code": "SMS_1", "sms_params": {"job": "{{ job_title * 3 }}"}},
            "sms_params.job: 48 characters for the sample with outcome reject, locale en",
        ),
        (
            {"sms_template_code": "1234567", "sms_params": {"1": "{{ candidate_name }}", "3": "x"}},
            "sms_params: positions must be 1, 2, ... without gaps",
        ),
        (
            {
                "sms_template_code": "SMS_1",
                "sms_params": {"name": "{{ candidate_name }}", "2": "x"},
            },
            "sms_params: use variable names (Alibaba) or positions (Tencent), not both",
        ),
        (
            {
                "sms_template_code": "SMS_1",
                "sms_params": {"name": "{{ candidate_name }}"},
                "sms_preview_text": "${name} 您好, ${job}",
            },
            "sms_preview_text: placeholder for 'job' has no parameter",
        ),
        (
            {"sms_template_code": "SMS 1!", "sms_params": {"name": "{{ candidate_name }}"}},
            "sms_template_code: letters, digits",
        ),
    ],
)
async def test_an_sms_form_that_cannot_be_sent_is_refused_and_nothing_is_written(
    api: httpx.AsyncClient, world: World, form: dict[str, Any], problem: str
) -> None:
    token = await admin_token(world)
    before = await template_rows(world)

    response = await api.post(URL, json=reject_template(**form), headers=hr(token, "sms-bad"))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_template"
    assert any(detail.startswith(problem) for detail in error["details"]), error["details"]
    assert await template_rows(world) == before


async def test_previewing_an_sms_form_fills_the_approved_text_and_counts_its_segments(
    api: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code

    response = await api.post(
        f"{URL}/preview",
        json={
            "application_code": code,
            "outcome": "reject",
            "subject": "s",
            "body": "b",
            **SMS_FORM,
        },
        headers=hr(world.recruiter_token, "sms-preview"),
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["sms_params"] == {"name": "李雷", "job": "后端工程师"}
    assert preview["sms_text"] == "李雷您好,您应聘的后端工程师岗位面试结果已出,请查收邮件。回TD退订"
    assert preview["sms_segments"] == 1


async def test_previewing_without_an_approved_text_counts_no_segments(
    api: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    code = (await world.application(1)).code
    form = {k: v for k, v in SMS_FORM.items() if k != "sms_preview_text"}

    response = await api.post(
        f"{URL}/preview",
        json={"application_code": code, "outcome": "reject", "body": "b", **form},
        headers=hr(world.recruiter_token, "sms-preview-2"),
    )

    assert response.status_code == 200, response.text
    assert (response.json()["sms_text"], response.json()["sms_segments"]) == (None, None)
