"""KPI correctness on a hand-written history whose figures are worked out in history.py."""

from __future__ import annotations

from datetime import date

import pytest

from candor.auth.principals import HRPrincipal
from candor.bootstrap import ensure_reference_data
from candor.kpis import drilldown, service
from candor.kpis.export import report_csv
from candor.kpis.service import KpiFilter, KpiFilterError, Timeliness
from candor.models.enums import Channel, Decision, Role
from candor.runtime import Runtime
from candor.sla.service import load_calendar
from tests.candor.kpis.history import NOW, PROMISE_DAYS, History, write_history

ADMIN = HRPrincipal(user_id=0, role=Role.ADMIN, team_ids=frozenset())


@pytest.fixture
async def history(runtime: Runtime) -> History:
    await ensure_reference_data(runtime)
    async with runtime.transaction() as session:
        return await write_history(session)


async def report(
    runtime: Runtime,
    filters: KpiFilter,
    principal: HRPrincipal = ADMIN,
    *,
    compare: bool = False,
) -> service.KpiReport:
    async with runtime.sessionmaker() as session:
        return await service.report(
            session,
            principal,
            filters,
            await load_calendar(session),
            promise_working_days=PROMISE_DAYS,
            compare_teams=compare,
            now=NOW,
        )


async def records(
    runtime: Runtime, history: History, selection: drilldown.Selection
) -> drilldown.Records:
    async with runtime.sessionmaker() as session:
        return await drilldown.records(
            session,
            ADMIN,
            history.filters(),
            await load_calendar(session),
            selection,
            promise_working_days=PROMISE_DAYS,
            now=NOW,
        )


async def test_the_figures_of_the_whole_company(runtime: Runtime, history: History) -> None:
    figures = (await report(runtime, history.filters())).figures

    assert figures.interviews_completed == 6
    assert figures.notified_in_time == 3  # 1, 4, 6
    assert figures.notified_late_or_missed == 2  # 2 late, 3 missed
    assert figures.pending_within_promise == 1  # 5
    assert figures.timeliness_rate == pytest.approx(3 / 5)
    # Working days to feedback: 2, 7, 0, 1 -> nearest-rank median 1, p90 7.
    assert figures.time_to_feedback_median == 1
    assert figures.time_to_feedback_p90 == 7
    assert figures.breaches_open == 1  # 3, pending approval past 03-11
    assert figures.approvals == 3  # the automatic approval of 4 is not HR's
    assert figures.approval_latency_median_hours == pytest.approx(10)
    assert figures.approval_latency_p90_hours == pytest.approx(64)
    assert {(c.channel, c.sent, c.finished) for c in figures.delivery} == {
        (Channel.EMAIL, 1, 1),
        (Channel.TELEGRAM, 1, 1),
        (Channel.WECHAT, 2, 3),
    }
    # Applications made in the range: 2-7 (1 and 8 applied before it).
    assert figures.funnel == {
        "applied": 6,
        "ai_interview_completed": 5,
        "result_sent": 3,
        "next_round": 2,
        "offer": 2,
    }


async def test_weekly_trends_by_week_of_completion(runtime: Runtime, history: History) -> None:
    weeks = {w.week: w for w in (await report(runtime, history.filters())).figures.weeks}

    assert sorted(weeks) == [
        date(2026, 2, 23),
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
    first = weeks[date(2026, 3, 2)]
    assert (first.completed, first.in_time, first.late, first.pending) == (4, 2, 2, 0)
    assert first.timeliness_rate == pytest.approx(0.5)
    assert first.median_working_days == 2  # 2, 7, 1 -> 2
    assert weeks[date(2026, 3, 9)].timeliness_rate == 1.0
    last = weeks[date(2026, 3, 16)]
    assert (last.completed, last.pending, last.timeliness_rate) == (1, 1, None)
    # Applied: 2 and 3 on Sunday 03-01, 4 and 6 on 03-02, 5 on 03-10, 7 on 03-18.
    assert [weeks[w].applied for w in sorted(weeks)] == [2, 2, 1, 1]


async def test_filters_and_team_comparison(runtime: Runtime, history: History) -> None:
    by_job = (await report(runtime, history.filters(job_id=history.job_b.id))).figures
    by_recruiter = (
        await report(runtime, history.filters(recruiter_id=history.recruiter_a.id))
    ).figures
    compared = await report(runtime, history.filters(), compare=True)

    assert (by_job.interviews_completed, by_job.timeliness_rate) == (2, 1.0)
    assert (by_recruiter.interviews_completed, by_recruiter.timeliness_rate) == (4, 0.5)
    teams = {t.team_id: t.figures for t in compared.teams}
    assert teams[history.team_a.id].timeliness_rate == pytest.approx(0.5)
    assert teams[history.team_a.id].breaches_open == 1
    assert teams[history.team_b.id].timeliness_rate == 1.0
    assert teams[history.team_b.id].breaches_open == 0


async def test_a_recruiter_sees_only_their_teams(runtime: Runtime, history: History) -> None:
    recruiter = HRPrincipal(
        user_id=history.recruiter_a.id, role=Role.RECRUITER, team_ids=frozenset({history.team_a.id})
    )
    mine = await report(runtime, history.filters(), recruiter, compare=True)

    assert mine.figures.interviews_completed == 4
    assert [t.team_id for t in mine.teams] == [history.team_a.id]
    with pytest.raises(KpiFilterError) as refused:
        await report(runtime, history.filters(team_ids=(history.team_b.id,)), recruiter)
    assert refused.value.status_code == 404


async def test_every_figure_drills_down_to_its_records(runtime: Runtime, history: History) -> None:
    async def rows(selection: drilldown.Selection) -> list[str]:
        return [row.cells[0] for row in (await records(runtime, history, selection)).rows]

    codes = history.codes
    late = await rows(
        drilldown.Selection("interviews", week=date(2026, 3, 2), timeliness=Timeliness.LATE)
    )
    assert late == [codes[2], codes[3]]
    assert await rows(drilldown.Selection("time_to_feedback")) == [
        codes[4],
        codes[6],
        codes[1],
        codes[2],
    ]
    assert len(await rows(drilldown.Selection("breaches"))) == 1
    assert len(await rows(drilldown.Selection("approvals"))) == 3
    failed = await rows(drilldown.Selection("deliveries", channel=Channel.WECHAT, succeeded=False))
    assert len(failed) == 1
    assert await rows(drilldown.Selection("funnel", step="offer")) == [codes[4], codes[6]]
    with pytest.raises(KpiFilterError):
        await rows(drilldown.Selection("nonsense"))


async def test_each_figure_counts_exactly_its_records(runtime: Runtime, history: History) -> None:
    """The figures are aggregated in SQL and the records listed row by row: they agree."""
    figures = (await report(runtime, history.filters())).figures

    async def count(selection: drilldown.Selection) -> int:
        return len((await records(runtime, history, selection)).rows)

    assert figures.interviews_completed == await count(drilldown.Selection("interviews"))
    for status, expected in (
        (Timeliness.IN_TIME, figures.notified_in_time),
        (Timeliness.LATE, figures.notified_late_or_missed),
        (Timeliness.PENDING, figures.pending_within_promise),
    ):
        assert expected == await count(drilldown.Selection("interviews", timeliness=status))
    for week in figures.weeks:
        selection = drilldown.Selection("interviews", week=week.week)
        assert week.completed == await count(selection)
    assert figures.breaches_open == await count(drilldown.Selection("breaches"))
    assert figures.approvals == await count(drilldown.Selection("approvals"))
    for channel in figures.delivery:
        selection = drilldown.Selection("deliveries", channel=channel.channel)
        assert channel.finished == await count(selection)
    for step, expected in figures.funnel.items():
        assert expected == await count(drilldown.Selection("funnel", step=step))


async def test_the_csv_export_carries_the_figures(runtime: Runtime, history: History) -> None:
    text = report_csv(await report(runtime, history.filters(), compare=True))

    assert "all,feedback_timeliness_rate,0.6000" in text
    assert "all,funnel.offer,2" in text
    assert f"team:{history.team_b.id},feedback_timeliness_rate,1.0000" in text
    assert "2026-03-02,4,2,2,0,0.5000,2.0000,2" in text
    assert "all,candidate_reply_rate,0.7500" in text
    assert "all,bot_containment_rate,0.3333" in text
    assert "all,hr_first_response_median_hours,3.0000" in text
    assert "all,csat.mean,3.6667" in text
    assert "all,csat.rating_2,1" in text
    assert "all,csat.missed.mean,2.0000" in text
    assert f"team:{history.team_b.id},csat.advance.rated,1" in text
    # Week of 03-09: 3 sent, 2 replied; 2 conversations, none contained; 2 hand-offs;
    # CSAT 3 asked, 2 rated, mean 3.
    assert ",3,2,0.6667,2,0,0.0000,2,3,2,3.0000" in text


async def test_ranges_are_checked(runtime: Runtime, history: History) -> None:
    with pytest.raises(KpiFilterError):
        await report(runtime, KpiFilter(date(2026, 3, 5), date(2026, 3, 1)))
    with pytest.raises(KpiFilterError):
        await report(runtime, KpiFilter(date(2025, 1, 1), date(2026, 3, 1)))


async def test_the_conversation_figures(runtime: Runtime, history: History) -> None:
    """Reply rate, containment, hand-offs and CSAT, worked out in history.py."""
    figures = (await report(runtime, history.filters())).figures

    assert (figures.results_sent, figures.results_replied) == (4, 3)
    assert figures.reply_rate == pytest.approx(0.75)
    assert (figures.conversations_started, figures.conversations_contained) == (6, 2)
    assert figures.containment_rate == pytest.approx(2 / 6)
    assert (figures.handoffs, figures.handoffs_answered) == (3, 2)
    assert figures.hr_first_response_median_hours == pytest.approx(3)
    assert figures.hr_first_response_p90_hours == pytest.approx(24)
    csat = figures.csat
    assert (csat.asked, csat.rated) == (4, 3)
    assert csat.response_rate == pytest.approx(0.75)
    assert csat.mean == pytest.approx(11 / 3)
    assert csat.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    by_outcome = {c.key: (c.asked, c.rated, c.mean) for c in figures.csat_by_outcome}
    assert by_outcome == {"advance": (2, 1, 4.0), "reject": (2, 2, 3.5), "hold": (0, 0, None)}
    by_promise = {c.key: (c.asked, c.rated, c.mean) for c in figures.csat_by_promise}
    assert by_promise == {"met": (3, 2, 4.5), "missed": (1, 1, 2.0), "unknown": (0, 0, None)}


async def test_the_conversation_figures_by_team_and_week(
    runtime: Runtime, history: History
) -> None:
    compared = await report(runtime, history.filters(), compare=True)
    teams = {t.team_id: t.figures for t in compared.teams}
    a, b = teams[history.team_a.id], teams[history.team_b.id]

    assert (a.results_sent, a.results_replied, b.results_sent, b.results_replied) == (3, 2, 1, 1)
    assert (a.conversations_started, a.conversations_contained) == (5, 2)
    assert (b.conversations_started, b.conversations_contained) == (1, 0)
    assert (a.handoffs, b.handoffs) == (3, 0)
    assert (b.csat.asked, b.csat.rated, b.csat.mean) == (1, 1, 4.0)
    weeks = {w.week: w for w in compared.figures.weeks}
    first, second, third = (weeks[date(2026, 3, d)] for d in (2, 9, 16))
    assert (first.results_sent, first.replied, second.results_sent, second.replied) == (1, 1, 3, 2)
    assert [w.conversations_started for w in (first, second, third)] == [3, 2, 1]
    assert [w.contained for w in (first, second, third)] == [1, 0, 1]
    assert [w.handoffs for w in (first, second, third)] == [0, 2, 1]
    assert (first.csat_asked, first.csat_rated, first.csat_mean) == (1, 1, 5.0)
    assert (second.csat_asked, second.csat_rated, second.csat_mean) == (3, 2, 3.0)


async def test_the_conversation_figures_drill_down(runtime: Runtime, history: History) -> None:
    figures = (await report(runtime, history.filters())).figures

    async def rows(selection: drilldown.Selection) -> list[list[str]]:
        return [row.cells for row in (await records(runtime, history, selection)).rows]

    codes = history.codes
    replied = await rows(drilldown.Selection("replies", succeeded=True))
    assert sorted(r[1] for r in replied) == [codes[1], codes[4], codes[6]]
    assert [r[1] for r in await rows(drilldown.Selection("replies", succeeded=False))] == [codes[2]]
    assert len(await rows(drilldown.Selection("replies"))) == figures.results_sent
    conversations = await rows(drilldown.Selection("conversations"))
    assert len(conversations) == figures.conversations_started
    contained = await rows(drilldown.Selection("conversations", succeeded=True))
    assert [r[0] for r in contained] == [
        str(history.conversations["C1"]),
        str(history.conversations["C7"]),
    ]
    assert len(await rows(drilldown.Selection("handoffs"))) == figures.handoffs
    responses = await rows(drilldown.Selection("hr_first_response"))
    assert [(r[2], r[7]) for r in responses] == [(codes[2], "3.0"), (codes[6], "24.0")]
    unanswered = await rows(drilldown.Selection("handoffs", succeeded=False))
    assert [(r[2], r[4]) for r in unanswered] == [(codes[6], "fallback")]
    assert len(await rows(drilldown.Selection("csat"))) == figures.csat.asked
    assert len(await rows(drilldown.Selection("csat", succeeded=True))) == figures.csat.rated
    for rating, count in figures.csat.distribution.items():
        assert count == len(await rows(drilldown.Selection("csat", rating=rating)))
    for split in figures.csat_by_promise:
        selection = drilldown.Selection("csat", promise=service.Promise(split.key))
        assert split.asked == len(await rows(selection))
    for split in figures.csat_by_outcome:
        selection = drilldown.Selection("csat", outcome=Decision(split.key), succeeded=True)
        assert split.rated == len(await rows(selection))
    for week in figures.weeks:
        assert week.conversations_started == len(
            await rows(drilldown.Selection("conversations", week=week.week))
        )
        assert week.results_sent == len(await rows(drilldown.Selection("replies", week=week.week)))
        assert week.handoffs == len(await rows(drilldown.Selection("handoffs", week=week.week)))
    missed = await rows(drilldown.Selection("csat", promise=service.Promise.MISSED))
    assert [(r[1], r[6]) for r in missed] == [(codes[2], "2")]
