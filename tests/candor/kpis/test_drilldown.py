"""Every figure drills down to the records behind it, and counts exactly them."""

from __future__ import annotations

from datetime import date

import pytest

from candor.kpis import drilldown
from candor.kpis.filters import KpiFilterError
from candor.kpis.promise import Promise, Timeliness
from candor.models.enums import Channel, Decision
from candor.runtime import Runtime
from tests.candor.kpis.history import History, records, report


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
    assert figures.drafts_needing_attention == await count(drilldown.Selection("needs_attention"))
    assert figures.approvals == await count(drilldown.Selection("approvals"))
    for channel in figures.delivery:
        selection = drilldown.Selection("deliveries", channel=channel.channel)
        assert channel.finished == await count(selection)
    for step, expected in figures.funnel.items():
        assert expected == await count(drilldown.Selection("funnel", step=step))


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
        selection = drilldown.Selection("csat", promise=Promise(split.key))
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
    missed = await rows(drilldown.Selection("csat", promise=Promise.MISSED))
    assert [(r[1], r[6]) for r in missed] == [(codes[2], "2")]


async def test_every_metric_lists_rows_of_its_columns(runtime: Runtime, history: History) -> None:
    for metric in drilldown.Metric:
        found = await records(runtime, history, drilldown.Selection(metric.value))
        assert found.title, metric
        assert found.rows, metric  # the history has records behind every figure
        assert {len(row.cells) for row in found.rows} == {len(found.columns)}, metric


async def test_unknown_metrics_steps_and_ratings_are_refused_clearly(
    runtime: Runtime, history: History
) -> None:
    with pytest.raises(KpiFilterError) as metric:
        await records(runtime, history, drilldown.Selection("nonsense"))
    assert metric.value.message == (
        "unknown metric 'nonsense'; one of interviews, time_to_feedback, breaches, "
        "needs_attention, approvals, "
        "deliveries, funnel, replies, conversations, handoffs, hr_first_response, csat"
    )
    assert metric.value.http_status == 422
    with pytest.raises(KpiFilterError, match="unknown funnel step 'hired'"):
        await records(runtime, history, drilldown.Selection("funnel", step="hired"))
    with pytest.raises(KpiFilterError, match="a rating is 1 to 5"):
        await records(runtime, history, drilldown.Selection("csat", rating=6))
