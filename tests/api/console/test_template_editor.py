"""The template editor: live preview against a real application, versions, inline errors."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from candor.models import AuditEntry
from candor.models.enums import Role
from candor.models.outreach import MessageTemplate
from tests.console_world import logged_in, post_form
from tests.outreach_world import World

KEY = "reject.zh-CN"


async def test_the_editor_previews_the_current_version_with_a_real_application(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    await logged_in(console, world.runtime, world.recruiter.id)

    editor = await console.get(f"/console/templates/{KEY}")

    assert editor.status_code == 200
    assert "AP-2026-000001" in editor.text  # the newest visible application, preselected
    assert "李雷" in editor.text  # rendered into the preview
    assert "v1 (current)" in editor.text
    assert "Save as v2" not in editor.text  # recruiters preview; admins save


async def test_live_preview_renders_unsaved_sources_or_shows_problems_inline(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    async def preview(subject: str, body: str, application_code: str) -> httpx.Response:
        """The editor's live preview: only the preview panel (`X-Fragment: 1`)."""
        return await post_form(
            console,
            f"/console/templates/{KEY}/preview",
            csrf,
            headers={"X-Fragment": "1"},
            subject=subject,
            body=body,
            application_code=application_code,
        )

    good = await preview(
        "结果", "{{ candidate_name }}，申请 {{ application_code }}", "AP-2026-000001"
    )
    bad = await preview("结果", "您好 {{ salary }}", "AP-2026-000001")
    foreign = await preview("s", "b", "AP-2099-1")

    assert good.status_code == 200
    assert "李雷，申请 AP-2026-000001" in good.text
    assert "<html" not in good.text  # only the panel
    assert 'class="problems"' in bad.text
    assert "salary" in bad.text
    assert "no application &#39;AP-2099-1&#39; in your teams" in foreign.text


async def test_an_admin_saves_a_new_version_and_it_is_audited(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, _ = await world.member(Role.ADMIN)
    csrf = await logged_in(console, world.runtime, admin.id)

    refused = await post_form(
        console, f"/console/templates/{KEY}", csrf, subject="结果", body="{{ nope }}"
    )
    assert refused.status_code == 422
    assert "nope" in refused.text

    saved = await post_form(
        console,
        f"/console/templates/{KEY}",
        csrf,
        subject="面试结果",
        body="{{ candidate_name }}，您好",
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/console/templates/{KEY}?saved=2"
    async with world.runtime.sessionmaker() as session:
        current = await session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.key == KEY, MessageTemplate.is_current.is_(True)
            )
        )
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "template.saved", AuditEntry.actor == f"user:{admin.id}"
            )
        )
    assert current is not None
    assert (current.version, current.body) == (2, "{{ candidate_name }}，您好")
    assert entry is not None
    assert entry.before is not None
    assert entry.before["version"] == 1
    assert entry.after == {
        "version": 2,
        "subject": "面试结果",
        "body": "{{ candidate_name }}，您好",
        "wechat_fields": current.wechat_fields,
        "sms_template_code": None,
        "sms_params": {},
        "sms_preview_text": None,
    }
    page = await console.get(saved.headers["location"])
    assert "Saved as version 2" in page.text


async def test_a_recruiter_cannot_save(console: httpx.AsyncClient, world: World) -> None:
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    answer = await post_form(console, f"/console/templates/{KEY}", csrf, subject="s", body="b")

    assert answer.status_code == 403


async def test_a_preview_that_fails_or_exceeds_a_limit_is_422_with_the_reason_inline(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    async def preview(body: str) -> httpx.Response:
        return await post_form(
            console,
            f"/console/templates/{KEY}/preview",
            csrf,
            headers={"X-Fragment": "1"},
            subject="结果",
            body=body,
            application_code="AP-2026-000001",
        )

    zero = await preview("{{ 1 / 0 }}")
    past_the_end = await preview("{{ strengths[7] }}")
    huge = await preview("{{ 'x' * 40000000 }}")
    loops = await preview(
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    )

    assert [r.status_code for r in (zero, past_the_end, huge, loops)] == [422] * 4
    assert "division by zero" in zero.text
    assert "no element 7" in past_the_end.text
    assert "would exceed 50000 characters" in huge.text
    assert len(huge.content) < 2000
    assert "steps" in loops.text


SMS_PARAMS = "name = {{ candidate_name }}\r\njob = {{ job_title }}"
SMS_TEXT = "${name}您好,您应聘的${job}岗位面试结果已出,请查收邮件。回TD退订"


async def test_an_admin_saves_the_sms_form_and_the_editor_shows_it_again(
    console: httpx.AsyncClient, world: World
) -> None:
    admin, _ = await world.member(Role.ADMIN)
    csrf = await logged_in(console, world.runtime, admin.id)

    refused = await post_form(
        console,
        f"/console/templates/{KEY}",
        csrf,
        sms_template_code="SMS_480215301",
        sms_params="name {{ candidate_name }}",
    )
    saved = await post_form(
        console,
        f"/console/templates/{KEY}",
        csrf,
        sms_template_code="SMS_480215301",
        sms_params=SMS_PARAMS,
        sms_preview_text=SMS_TEXT,
    )
    editor = await console.get(f"/console/templates/{KEY}")

    assert refused.status_code == 422
    assert "no source; write it as name {{ candidate_name }} = {{ variable }}" in refused.text
    assert saved.status_code == 303, saved.text
    async with world.runtime.sessionmaker() as session:
        current = await session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.key == KEY, MessageTemplate.is_current.is_(True)
            )
        )
    assert current is not None
    assert (current.version, current.sms_template_code, current.sms_preview_text) == (
        2,
        "SMS_480215301",
        SMS_TEXT,
    )
    assert current.sms_params == {"name": "{{ candidate_name }}", "job": "{{ job_title }}"}
    assert 'value="SMS_480215301"' in editor.text
    assert "job = {{ job_title }}" in editor.text


async def test_the_preview_shows_the_sms_and_its_segments(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    csrf = await logged_in(console, world.runtime, world.recruiter.id)

    async def preview(text: str) -> httpx.Response:
        return await post_form(
            console,
            f"/console/templates/{KEY}/preview",
            csrf,
            headers={"X-Fragment": "1"},
            sms_template_code="SMS_480215301",
            sms_params=SMS_PARAMS,
            sms_preview_text=text,
            application_code="AP-2026-000001",
        )

    short = await preview(SMS_TEXT)
    long = await preview(SMS_TEXT + "。" * 40)
    unmatched = await preview("${who}您好")

    assert short.status_code == 200, short.text
    assert "李雷您好,您应聘的后端工程师岗位面试结果已出" in short.text
    assert '<span class="segments">1 segment</span>' in short.text
    assert '<span class="segments">2 segments</span>' in long.text
    assert unmatched.status_code == 422
    assert "placeholder for &#39;who&#39; has no parameter" in unmatched.text
