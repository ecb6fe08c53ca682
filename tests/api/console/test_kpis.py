"""The dashboard pages, drill-down and CSV export over the console."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from candor.models import AuditEntry
from tests.candor.kpis.history import write_history
from tests.console_world import logged_in
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
