"""The real Rasa engine on tests/test_stories.yml, when its environment has been set up.

Set-up takes minutes and 2.7 GB, so locally this runs once `candor rasa setup` and
`candor rasa train` have been run (otherwise it is skipped, with the reason in the summary);
with CI=true a missing Rasa environment fails instead. `python3 dev.py test` sets up and
trains Rasa beside pytest and names the file its outcome will be written to in
CANDOR_RASA_PREPARED: the test waits for that outcome first, for a bounded time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from candor.settings import Settings
from nlu.project import REPOSITORY_ROOT
from nlu.rasa_env import RASA_VERSION, environment, run_test_stories
from tests.conftest import cannot_run_here

# A fresh machine's set-up and training take 10-25 minutes beside the suite; the suite
# reaches this test after about as long, so any wait is short unless something hangs.
PREPARATION_WAIT_S = 40 * 60


def wait_for_the_preparation() -> None:
    outcome_file = os.environ.get("CANDOR_RASA_PREPARED")
    if not outcome_file:
        return
    outcome = Path(outcome_file)
    deadline = time.monotonic() + PREPARATION_WAIT_S
    while not outcome.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"Rasa's set-up and training gave no outcome in {PREPARATION_WAIT_S} s")
        time.sleep(2)
    status, _, detail = outcome.read_text(encoding="utf-8").partition("\n")
    if status != "ok":
        cannot_run_here(f"Rasa's set-up or training failed: {detail.strip()}")


@pytest.fixture
def rasa_settings() -> Settings:
    wait_for_the_preparation()
    # CANDOR_RASA_HOME as `python3 dev.py test` sets it (a cache outside the clone), else
    # the default under var/.
    home = Settings().rasa_home
    settings = Settings(rasa_home=home if home.is_absolute() else REPOSITORY_ROOT / home)
    env = environment(settings)
    if env.installed_version() != RASA_VERSION or not env.model.is_file():
        cannot_run_here(
            "Rasa is not set up and trained: run `candor rasa setup && candor rasa train`"
        )
    return settings


@pytest.mark.real_rasa
def test_the_test_stories_pass_on_rasa(rasa_settings: Settings) -> None:
    results = run_test_stories(rasa_settings)
    assert (results / "story_report.json").is_file()
    assert "None of the test stories failed" in (results / "failed_test_stories.yml").read_text(
        encoding="utf-8"
    )
