"""deploy/grafana: the dashboard's panels query only the agreed metrics, in valid PromQL,
and cover every one of them; the provisioning files point at it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import DEPLOY, promtool_run
from tests.deploy.promql import GRAFANA_VARIABLES, SPEC, problems, usage

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "candor.json"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]


def test_the_dashboard_is_a_current_grafana_dashboard_with_a_data_source_choice() -> None:
    board = dashboard()
    assert board["uid"] == "candor-overview"
    assert board["schemaVersion"] >= 36  # Grafana 9 and later
    assert board["timezone"] == "Asia/Shanghai"  # what people read is in China time
    [variable] = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_no_two_panels_overlap_and_all_fit_the_24_column_grid() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_query_uses_only_the_agreed_metrics_and_labels() -> None:
    found = {f"{title}: {expr}": problems(expr) for title, expr in expressions()}
    assert {query: errors for query, errors in found.items() if errors} == {}


def test_every_agreed_metric_has_a_panel() -> None:
    used: set[str] = set()
    for _, expr in expressions():
        used |= usage(expr).metrics
    bases = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert set(SPEC) - bases == set()
    assert "up" in used


def test_latency_panels_show_p50_and_p99_by_route() -> None:
    quantiles = {
        title: re.findall(r"histogram_quantile\((0\.\d+)", expr)
        for title, expr in expressions()
        if "candor_http_request_duration_seconds_bucket" in expr and "by (le, route)" in expr
    }
    shown = {q for found in quantiles.values() for q in found}
    assert {"0.5", "0.99"} <= shown
    assert any(
        "candor_wechat_callback_ack_seconds_bucket" in expr and "histogram_quantile(0.99" in expr
        for _, expr in expressions()
    )


def test_promtool_parses_every_query(promtool: str, tmp_path: Path) -> None:
    # Each query as a recording rule: `promtool check rules` parses its PromQL.
    rules = [
        {"record": f"dashboard:query_{index}", "expr": GRAFANA_VARIABLES.sub("5m", expr)}
        for index, (_, expr) in enumerate(expressions())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}), "utf-8")
    checked = promtool_run(promtool, "check", "rules", path, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


def test_promtool_refuses_a_broken_query(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "queries.yml"
    broken = {"record": "dashboard:broken", "expr": "sum by (le (rate(x[5m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": [broken]}]}), "utf-8")
    checked = promtool_run(promtool, "check", "rules", path, timeout=120)
    assert checked.returncode != 0


def test_provisioning_loads_this_dashboard_and_a_prometheus_source() -> None:
    provisioning = GRAFANA / "provisioning"
    dashboards = yaml.safe_load((provisioning / "dashboards" / "candor.yml").read_text("utf-8"))
    [provider] = dashboards["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text("utf-8"))
    [source] = sources["datasources"]
    assert source["type"] == "prometheus"
    assert dashboards["apiVersion"] == sources["apiVersion"] == 1
