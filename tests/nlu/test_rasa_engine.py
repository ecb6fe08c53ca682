"""The real Rasa engine on tests/test_stories.yml, when its environment has been set up.

Set-up takes minutes and 2.7 GB, so locally this runs once `candor rasa setup` and
`candor rasa train` have been run (otherwise it is skipped, with the reason in the summary);
with CI=true a missing Rasa environment fails instead.
"""

from __future__ import annotations

import pytest

from candor.settings import Settings
from nlu.project import REPOSITORY_ROOT
from nlu.rasa_env import RASA_VERSION, environment, run_test_stories
from tests.conftest import cannot_run_here


@pytest.fixture
def rasa_settings() -> Settings:
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


def test_the_test_stories_pass_on_rasa(rasa_settings: Settings) -> None:
    results = run_test_stories(rasa_settings)
    assert (results / "story_report.json").is_file()
    assert "None of the test stories failed" in (results / "failed_test_stories.yml").read_text(
        encoding="utf-8"
    )
