"""Metrics of the running mesh: `teei up` lists every service, Envoy and itself in targets.json; every target
answers; every service carries the RPC duration metric; and every metric a dashboard or alert rule reads exists
in a live scrape (rules' own recorded series and Prometheus' `up` aside)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.cli import dashboards, spec
from services.cli.prometheus import ENVOY_METRICS_PATH, RULES
from tests.e2e.conftest import MeshProcess

pytestmark = pytest.mark.e2e

# Series Prometheus makes itself, not found in any target's scrape.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate", "histogram_quantile",
    "time", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset", "abs",
    "humanizePercentage", "humanizeDuration", "topk", "bottomk", "clamp_min", "clamp_max", "le",
}  # fmt: skip


def _metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers outside label matchers, strings, durations and
    grouping clauses that are not PromQL words."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    found = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {name for name in found if name not in PROMQL_WORDS and not re.fullmatch(r"\d+[a-z]*", name)}


def _used() -> tuple[set[str], set[str]]:
    """Metric names read by dashboards and rules, and the names the rules record themselves."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    exprs = [rule["expr"] for rule in rules] + [e for board in dashboards.BOARDS for e in dashboards.expressions(board)]
    return {name for expr in exprs for name in _metric_names(expr)}, recorded


@pytest.fixture(scope="module")
def scraped(mesh: MeshProcess) -> dict[str, tuple[dict[str, str], str]]:
    """Every target of targets.json by its `service` label: its labels and the text it answered."""
    groups = json.loads((mesh.var_dir / "telemetry" / "prometheus" / "targets.json").read_text())
    # One call through the edge, so the gateway's RPC series has samples too.
    httpx.get(f"{mesh.edge_url}/auth/jwks", timeout=10).raise_for_status()
    found = {}
    for group in groups:
        (target,) = group["targets"]
        labels = group["labels"]
        response = httpx.get(f"http://{target}{labels.get('__metrics_path__', '/metrics')}", timeout=10)
        assert response.status_code == 200, f"{labels['service']} at {target}: {response.status_code}"
        found[labels["service"]] = (labels, response.text)
    return found


def test_targets_list_every_service_envoy_and_the_launcher(scraped: dict[str, tuple[dict[str, str], str]]) -> None:
    resources = spec.load()
    services = {r.name for r in resources if r.kind in ("grpc", "ratelimit")}
    assert services | {"edge", "teei-up"} == set(scraped)
    assert scraped["edge"][0]["__metrics_path__"] == ENVOY_METRICS_PATH


def test_every_service_exposes_the_rpc_duration_histogram(scraped: dict[str, tuple[dict[str, str], str]]) -> None:
    for name, (labels, text) in scraped.items():
        if labels["job"] != "teei":
            continue
        families = {family.name: family for family in text_string_to_metric_families(text)}
        assert "rpc_server_duration_seconds" in families, f"{name} lacks rpc_server_duration_seconds"
        assert families["rpc_server_duration_seconds"].type == "histogram"
    gateway = scraped["gateway"][1]
    assert 'rpc_server_duration_seconds_count{rpc_grpc_status_code="0",rpc_method="GetJwks"' in gateway


def test_every_metric_of_the_dashboards_and_rules_exists(scraped: dict[str, tuple[dict[str, str], str]]) -> None:
    exposed: set[str] = set()
    for _, text in scraped.values():
        for family in text_string_to_metric_families(text):
            exposed.add(family.name)
            exposed.update(sample.name for sample in family.samples)
            if family.type == "counter":
                exposed.add(family.name + "_total")
            if family.type == "histogram":
                exposed.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    used, recorded = _used()
    missing = sorted(used - exposed - recorded - SYNTHETIC)
    assert not missing, f"read by a dashboard or rule but exposed by no target: {missing}"


def test_the_expression_parser_finds_metric_names() -> None:
    expr = 'sum by (service, le) (rate(rpc_server_duration_seconds_bucket{rpc_method=~"Import.*"}[5m])) / x_total'
    assert _metric_names(expr) == {"rpc_server_duration_seconds_bucket", "x_total"}
    assert _metric_names("min(a) - time() < 14 * 86400") == {"a"}
