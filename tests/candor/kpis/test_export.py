"""The report as CSV."""

from __future__ import annotations

from candor.kpis.export import report_csv
from candor.runtime import Runtime
from tests.candor.kpis.history import History, report


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
