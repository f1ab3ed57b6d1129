"""`make bench` in miniature: every scenario runs for a moment on a real mesh and answers without an
error (no lost or doubled webhook, every CSV row stored). Timing is never asserted: the machine is shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.load import run_bench
from tests.load.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


def test_every_bench_scenario_runs_without_errors(tmp_path: Path) -> None:
    """Each scenario is measured and reported with zero errors, in the JSON shape the reports promise."""
    stem = tmp_path / "perf_baseline"
    argv = ["--backends", "sqlite", "--vus", "2", "--duration", "1s", "--webhooks", "60", "--csv-rows", "300"]
    run_bench.main([*argv, "--report", str(stem)])

    report = json.loads(stem.with_suffix(".json").read_text())
    scenarios = report["backend"]["sqlite"]["scenarios"]
    assert set(scenarios) == {s.name for s in SCENARIOS}
    for name, figures in scenarios.items():
        assert figures["errors"] == 0, f"{name}: {figures}"
        assert figures["rps"] > 0, f"{name}: {figures}"
        assert {"rps", "p50_ms", "p95_ms", "p99_ms", "errors"} <= set(figures)
    assert stem.with_suffix(".png").stat().st_size > 0
    assert "| profile_get_edge / envoy_ceiling |" in stem.with_suffix(".md").read_text()
