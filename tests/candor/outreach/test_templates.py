"""The shipped default templates against the save-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from candor.outreach.templates import DEFAULT_TEMPLATES_DIR, read_template_file
from candor.outreach.templating import saving_problems

SHIPPED = sorted(DEFAULT_TEMPLATES_DIR.glob("*.yaml"))


def test_every_locale_and_outcome_ships_a_template() -> None:
    assert len(SHIPPED) == 6


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_a_shipped_template_renders_for_every_sample_context(path: Path) -> None:
    assert saving_problems(read_template_file(path).sources()) == []
