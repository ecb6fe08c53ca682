"""The backup drill (deploy/backup/drill.py), run for real at a small size: a loaded system is
backed up with pg_dump, restored with pg_restore, compared with its snapshot and run again."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL

DRILL = Path(__file__).resolve().parents[3] / "deploy" / "backup" / "drill.py"

pytestmark = pytest.mark.scaled


def load_drill() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backup_drill", DRILL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def test_a_backup_under_load_restores_to_exactly_its_snapshot_and_delivers_on() -> None:
    # Not skipped when missing: a machine that runs PostgreSQL has its client programs.
    assert shutil.which("pg_dump"), "install postgresql-client"
    assert shutil.which("pg_restore"), "install postgresql-client"
    result = subprocess.run(
        [
            sys.executable,
            str(DRILL),
            "--applications",
            "200",
            "--warm-up",
            "40",
            "--rate",
            "40",
            "--admin-url",
            POSTGRES_ADMIN_URL,
            "--redis-url",
            REDIS_URL,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = result.stdout
    assert re.search(r"backup \(pg_dump -Fc, under load\): [\d.]+ s, [\d,]+ KiB", report)
    assert re.search(r"restore \(pg_restore into a new database\): [\d.]+ s", report)
    assert "equal the snapshot's; no incoherent outbox row" in report
    sent = re.search(r"outbox .*sent (\d+)", report)
    assert sent, report
    assert int(sent[1]) > 0, report  # the worker was sending when the backup ran
    posted = re.search(r"events posted during the drill: (\d+)", report)
    assert posted, report
    assert int(posted[1]) >= 40, report
    assert re.search(r"after restore: /readyz 200; \d+ deliveries, every row due", report)


def test_the_comparison_names_each_difference() -> None:
    drill = load_drill()
    snapshot = drill.Census(
        tables={"outbox": 3, "candidates": 5},
        outbox={("sent", "email"): 2, ("pending", "wechat"): 1},
        messages={"sent": 2, "queued": 1},
        in_flight_leases=0,
    )
    assert drill.compare(snapshot, snapshot) == []
    restored = drill.Census(
        tables={"outbox": 3, "candidates": 4},
        outbox={("sent", "email"): 3},
        messages={"sent": 3},
        in_flight_leases=0,
        violations=["1 outbox rows 'in_flight' without a claim or lease (never retried)"],
    )
    problems = drill.compare(snapshot, restored)
    assert "table candidates: 5 in the snapshot, 4 restored" in problems
    assert "outbox pending/wechat: 1 in the snapshot, None restored" in problems
    assert "outbox sent/email: 2 in the snapshot, 3 restored" in problems
    assert any(p.startswith("messages by state") for p in problems)
    assert any(p.startswith("restored: 1 outbox rows 'in_flight'") for p in problems)
