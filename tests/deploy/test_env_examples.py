"""The example environment files load as they are shipped, once the secrets they ask the
operator for are filled in: a blank optional line must not stop every process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from candor.settings import Settings
from tests.deploy.conftest import DEPLOY, REPO

EXAMPLES = [
    DEPLOY / "systemd" / "candor.env.example",
    DEPLOY / ".env.example",
    REPO / ".env.example",
]
FILLED_IN = {
    "CANDOR_SECRET_KEY": "x" * 48,
    # What `candor crypto generate-key` prints: 32 random bytes in base64.
    "CANDOR_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "CANDOR_ENCRYPTION_ACTIVE_KEY": "k1",
    "CANDOR_BLIND_INDEX_KEY": "B" * 43 + "=",
}


def assignments(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.lstrip().startswith("#") and name.startswith("CANDOR_"):
            values[name.strip()] = value.strip()
    return values


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_example_loads_with_only_its_secrets_filled_in(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in os.environ if name.startswith("CANDOR_")]:
        monkeypatch.delenv(name)
    values = assignments(example)
    for name, value in values.items():
        monkeypatch.setenv(name, value or FILLED_IN.get(name, ""))

    Settings(_env_file=None)  # raises ValidationError on any value the file gets wrong
