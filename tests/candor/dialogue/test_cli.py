from __future__ import annotations

from pathlib import Path

from tests.candor.test_cli import candor


def test_load_answers_refuses_unknown_jobs_then_loads_company_wide_ones(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    assert candor("db", "upgrade", env=embedded_env).returncode == 0
    # The shipped file names the demo company's jobs, which this database does not have.
    refused = candor("dialogue", "load-answers", env=embedded_env)
    assert refused.returncode == 1
    assert "unknown job 'demo-job-backend'" in refused.stderr

    company_wide = tmp_path / "answers.yml"
    company_wide.write_text(
        "answers:\n  - {job: null, topic: benefits, zh-CN: 五险一金, en: full insurance}\n",
        encoding="utf-8",
    )
    loaded = candor("dialogue", "load-answers", str(company_wide), env=embedded_env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "loaded 2 answers"
