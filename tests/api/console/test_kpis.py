"""The dashboard pages, drill-down and CSV export over the console."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from candor.models import AuditEntry, HRUser, Job
from candor.models.enums import Role
from tests.candor.kpis.history import write_history
from tests.candor.kpis.test_scheduling_figures import write_scheduling_history
from tests.console_world import logged_in
from tests.factories import make_hr_user
from tests.outreach_world import World

RANGE = "from=2026-03-01&to=2026-03-31"


async def test_the_dashboard_shows_figures_that_link_to_their_records(
    console: httpx.AsyncClient, world: World
) -> None:
    await world.applicant(1)
    await world.decide(1, "reject")  # pending approval, due 03-10: late, and a breach
    await world.applicant(2, team="team-b")
    await logged_in(console, world.runtime, world.recruiter.id)

    page = await console.get(f"/console/kpis?{RANGE}&compare_teams=true")
    records = await console.get(f"/console/kpis/records?{RANGE}&metric=breaches")

    assert page.status_code == 200
    assert page.text.count("<svg") >= 4
    link = f"/console/kpis/records?{RANGE}&metric=breaches".replace("&", "&amp;")
    assert f'href="{link}"' in page.text
    assert records.status_code == 200
    assert "AP-2026-000001" in records.text
    assert "AP-2026-000002" not in records.text  # team B's


async def test_the_records_page_shows_one_page_with_links_to_the_others(
    console: httpx.AsyncClient, world: World
) -> None:
    for n in (1, 2, 3):
        await world.applicant(n)
    await logged_in(console, world.runtime, world.recruiter.id)

    first = await console.get(f"/console/kpis/records?{RANGE}&metric=interviews&limit=2")
    second = await console.get(f"/console/kpis/records?{RANGE}&metric=interviews&limit=2&offset=2")

    assert "Showing 1–2 of 3" in first.text
    assert first.text.count("AP-2026-00000") == 2
    assert 'rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    assert "offset=2" in first.text
    assert "Showing 3–3 of 3" in second.text
    assert second.text.count("AP-2026-00000") == 1
    assert 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text


async def test_empty_form_fields_mean_no_filter_and_bad_ones_are_refused(
    console: httpx.AsyncClient, world: World
) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)

    empty = await console.get(f"/console/kpis?{RANGE}&recruiter_id=&job_id=")
    bad = await console.get(f"/console/kpis?{RANGE}&job_id=abc")
    foreign = await console.get(f"/console/kpis?{RANGE}&team_id={world.other_team.id}")

    assert empty.status_code == 200
    assert bad.status_code == 422
    assert foreign.status_code == 404


async def test_the_csv_export_is_audited(console: httpx.AsyncClient, world: World) -> None:
    await logged_in(console, world.runtime, world.recruiter.id)

    export = await console.get(f"/console/kpis/export.csv?{RANGE}")

    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "all,interviews_completed,0" in export.text
    async with world.runtime.sessionmaker() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "kpi.exported"))
    assert entry is not None
    assert entry.actor == f"user:{world.recruiter.id}"
    assert entry.details["from"] == "2026-03-01"


async def test_the_conversation_figures_show_and_drill_down(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        history = await write_history(session)
    await logged_in(console, world.runtime, history.recruiter_a.id)
    team_a = history.team_a.id
    query = f"from=2026-03-01&to=2026-03-20&team_id={team_a}"

    page = await console.get(f"/console/kpis?{query}")
    csat = await console.get(f"/console/kpis/records?{query}&metric=csat&rating=2")
    bad = await console.get(f"/console/kpis/records?{query}&metric=csat&rating=9")

    assert page.status_code == 200
    # Team A: 2 of 3 results replied to, 2 of 5 conversations contained, hand-offs answered
    # after 3 h and 24 h, CSAT 5 and 2 (one question unanswered).
    assert '<div class="value" data-metric="reply_rate"><a' in page.text
    assert ">67%</a>" in page.text
    assert ">40%</a>" in page.text
    assert ">3.0 h</a>" in page.text
    assert ">3.50</a>" in page.text
    for chart in ("replies", "containment", "handoffs", "csat", "csat-splits"):
        assert f'id="chart-{chart}"><h2>' in page.text
        assert "<svg" in page.text.split(f'id="chart-{chart}"')[1].split("</div>")[0]
    link = f"/console/kpis/records?{query}&metric=csat&rating=2".replace("&", "&amp;")
    assert f'href="{link}"' in page.text
    assert csat.status_code == 200
    assert history.codes[2] in csat.text
    assert history.codes[1] not in csat.text  # rated 5
    assert bad.status_code == 422


async def name_the_owners(world: World) -> dict[str, int]:
    """Team A's job owned by 王招聘 and a second team A job, 前端工程师, owned by its lead
    李组长; team B's job owned by 赵外组 (the outsider). Returns the ids by name."""
    await world.applicant(1)
    await world.applicant(2, team="team-b")
    async with world.runtime.transaction() as session:
        lead = await make_hr_user(session, team=world.team, role=Role.TEAM_LEAD)
        lead.display_name = "李组长"
        recruiter = await session.get_one(HRUser, world.recruiter.id)
        outsider = await session.get_one(HRUser, world.outsider.id)
        outsider.display_name = "赵外组"
        job_a = await session.scalar(select(Job).where(Job.external_id == "job-team-a"))
        job_b = await session.scalar(select(Job).where(Job.external_id == "job-team-b"))
        assert job_a is not None
        assert job_b is not None
        job_a.recruiter_id, job_b.recruiter_id = recruiter.id, outsider.id
        frontend = Job(
            external_id="job-a-2", team_id=world.team.id, title="前端工程师", recruiter_id=lead.id
        )
        session.add(frontend)
        await session.flush()
        return {
            "王招聘": recruiter.id,
            "李组长": lead.id,
            "赵外组": outsider.id,
            "后端工程师 · 招聘一组": job_a.id,
            "前端工程师 · 招聘一组": frontend.id,
            "后端工程师 · 销售部": job_b.id,
        }


def options(html: str, name: str) -> dict[str, int]:
    """The named options of the dashboard's <select name=...>, by their text."""
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select is not None, f"no select {name}"
    return {
        text: int(value)
        for value, text in re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', select[0])
    }


async def test_the_filters_offer_names_only_from_the_users_scope(
    console: httpx.AsyncClient, world: World
) -> None:
    ids = await name_the_owners(world)
    admin, _ = await world.member(Role.ADMIN)
    await logged_in(console, world.runtime, world.recruiter.id)

    page = await console.get(f"/console/kpis?{RANGE}")

    assert page.status_code == 200
    assert options(page.text, "recruiter_id") == {"李组长": ids["李组长"], "王招聘": ids["王招聘"]}
    assert options(page.text, "job_id") == {
        "前端工程师 · 招聘一组": ids["前端工程师 · 招聘一组"],
        "后端工程师 · 招聘一组": ids["后端工程师 · 招聘一组"],
    }
    assert options(page.text, "team_id") == {"招聘一组": world.team.id}
    assert "赵外组" not in page.text
    assert "销售部" not in page.text

    # Chosen by name: the report narrows to that recruiter's or that job's applications.
    chosen = options(page.text, "recruiter_id")["王招聘"]
    mine = await console.get(
        f"/console/kpis/records?{RANGE}&metric=interviews&recruiter_id={chosen}"
    )
    lead = options(page.text, "recruiter_id")["李组长"]
    theirs = await console.get(
        f"/console/kpis/records?{RANGE}&metric=interviews&recruiter_id={lead}"
    )
    narrowed = await console.get(f"/console/kpis?{RANGE}&recruiter_id={chosen}")
    job = options(page.text, "job_id")["前端工程师 · 招聘一组"]
    by_job = await console.get(f"/console/kpis/records?{RANGE}&metric=interviews&job_id={job}")
    assert "AP-2026-000001" in mine.text
    assert "AP-2026-000001" not in theirs.text
    assert theirs.status_code == by_job.status_code == 200
    assert "AP-2026-000001" not in by_job.text
    assert re.search(rf'<option value="{chosen}" selected>王招聘</option>', narrowed.text)

    # Another team's recruiter or job is refused, never a wider or silently empty report.
    for query in (f"recruiter_id={ids['赵外组']}", f"job_id={ids['后端工程师 · 销售部']}"):
        for path in ("/console/kpis", "/console/kpis/records", "/console/kpis/export.csv"):
            refused = await console.get(f"{path}?{RANGE}&metric=interviews&{query}")
            assert refused.status_code == 404, (path, query)
            assert ("no recruiter" in refused.text) or ("no job" in refused.text)

    # An admin chooses among everyone's.
    console.cookies.clear()
    await logged_in(console, world.runtime, admin.id)
    everything = await console.get(f"/console/kpis?{RANGE}")
    assert set(options(everything.text, "recruiter_id")) == {"李组长", "王招聘", "赵外组"}
    assert len(options(everything.text, "job_id")) == 3


async def test_the_scheduling_figures_show_on_the_dashboard(
    console: httpx.AsyncClient, world: World
) -> None:
    async with world.runtime.transaction() as session:
        history = await write_history(session)
    await write_scheduling_history(world.runtime, history)
    await logged_in(console, world.runtime, history.recruiter_a.id)

    page = await console.get("/console/kpis?from=2026-03-01&to=2026-03-20")

    assert page.status_code == 200
    # Team A: booked after 6 h, 24 h and 216 h (median 24 h), 2 of 3 by the candidate, one
    # move, one no-show of two interviews with attendance recorded.
    tiles = page.text[page.text.index('id="kpis-scheduling"') :]
    assert '<div class="value" data-metric="time_to_booking_median_hours">24.0 h</div>' in tiles
    assert '<div class="value" data-metric="self_service_share">67%</div>' in tiles
    assert '<div class="value" data-metric="reschedules">1</div>' in tiles
    assert '<div class="value" data-metric="no_show_rate">50%</div>' in tiles
    assert "Self-service share: 2 of 3 interviews booked by the candidate" in tiles
