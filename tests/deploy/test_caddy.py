"""deploy/caddy/Caddyfile: Caddy itself validates it (Debian's caddy package, which
`python3 dev.py test` installs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY

CADDYFILE = DEPLOY / "caddy" / "Caddyfile"


def validate(
    caddy: str, tmp_path: Path, config: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caddy, "validate", "--adapter", "caddyfile", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # Caddy's internal CA is provisioned while validating: keep it out of $HOME.
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), **env},
    )


@pytest.mark.parametrize(
    ("site", "issuer"),
    [("localhost", "internal"), ("candor.example.com", "ops@example.com")],
)
def test_caddy_accepts_the_caddyfile(caddy: str, tmp_path: Path, site: str, issuer: str) -> None:
    checked = validate(caddy, tmp_path, CADDYFILE, SITE_ADDRESS=site, TLS_ISSUER=issuer)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr

    broken = tmp_path / "Caddyfile"
    broken.write_text(CADDYFILE.read_text(encoding="utf-8").replace("lb_policy", "lb_polcy"))
    refused = validate(caddy, tmp_path, broken, SITE_ADDRESS=site, TLS_ISSUER=issuer)
    assert refused.returncode != 0


def test_metrics_are_refused_from_outside_private_networks() -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    assert "path /metrics" in text
    assert "not remote_ip 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16" in text
    assert "respond @metrics_from_outside 404" in text
