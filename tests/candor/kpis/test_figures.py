"""The figures on a hand-written history whose figures are worked out in history.py."""

from __future__ import annotations

from datetime import date

import pytest

from candor.models.enums import Channel
from candor.runtime import Runtime
from tests.candor.kpis.history import History, report


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
    assert figures.drafts_needing_attention == 1  # 5, its template failed to render
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
    assert teams[history.team_a.id].drafts_needing_attention == 0
    assert teams[history.team_b.id].drafts_needing_attention == 1


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
