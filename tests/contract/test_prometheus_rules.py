"""The alerting rules: promtool checks and unit-tests them (each alert fires on a broken objective and stays quiet
otherwise), and each alert has its runbook."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from services.cli.spec import REPO_ROOT

RULES_DIR = REPO_ROOT / "observability" / "prometheus"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_SECTIONS = ("## Meaning", "## First checks", "## Mitigation", "## Verification")


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make promtool` (Debian's prometheus package) installs it"
    return found


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((RULES_DIR / "rules.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


ALERTS = sorted(rule["alert"] for rule in _rules() if "alert" in rule)


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", "rules.yml"], check=False, cwd=RULES_DIR, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "rules.test.yml"],
        check=False,
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_each_alert_is_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load((RULES_DIR / "rules.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert set(ALERTS) <= fired, f"never seen firing: {sorted(set(ALERTS) - fired)}"
    assert set(ALERTS) <= quiet, f"never seen quiet: {sorted(set(ALERTS) - quiet)}"


@pytest.mark.parametrize("alert", ALERTS)
def test_each_alert_has_a_runbook(alert: str) -> None:
    (rule,) = [rule for rule in _rules() if rule.get("alert") == alert]
    assert rule["annotations"]["runbook"] == f"docs/runbooks/{alert}.md"
    path = RUNBOOKS / f"{alert}.md"
    assert path.exists(), f"{alert} has no runbook at {path.relative_to(REPO_ROOT)}"
    text = path.read_text()
    missing = [section for section in RUNBOOK_SECTIONS if section not in text]
    assert not missing, f"{path.name} lacks {missing}"
    assert "```" in text, f"{path.name} gives no exact command"


def test_every_runbook_belongs_to_an_alert() -> None:
    books = {path.stem for path in RUNBOOKS.glob("*.md") if path.name != "README.md"}
    assert books <= set(ALERTS), f"runbooks without an alert: {sorted(books - set(ALERTS))}"
