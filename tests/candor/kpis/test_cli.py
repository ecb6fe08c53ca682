from __future__ import annotations

from tests.candor.test_cli import candor


def test_rebuild_and_check(embedded_env: dict[str, str]) -> None:
    assert candor("db", "upgrade", env=embedded_env).returncode == 0

    rebuilt = candor("kpis", "rebuild", env=embedded_env)
    checked = candor("kpis", "check", env=embedded_env)

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "kpi_interview_facts: 0 rows in" in rebuilt.stdout
    assert checked.returncode == 0, checked.stderr
    assert "kpi_csat_facts: exact" in checked.stdout
