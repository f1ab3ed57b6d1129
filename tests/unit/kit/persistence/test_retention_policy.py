"""The retention policy file: the shipped one loads with every data class, and a malformed one is refused
with a message naming the file and the key that is wrong."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

import pytest

from services.kit.persistence import retention_policy
from services.kit.persistence.retention import Hop, Rule
from services.kit.persistence.retention_policy import RetentionPolicyError

CLASSES = {"raw_imports", "quarantined_rows", "evidence", "scores", "audit", "dsr_bundles"}

VALID = """
version: 1
classes:
  evidence:
    max_age_days: 365
    meaning: snippets
    covers:
      - {service: q2q, table: q2q_evidence, timestamp: created_at}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "retention.yaml"
    path.write_text(text)
    return path


def test_the_shipped_policy_covers_every_data_class() -> None:
    policy = retention_policy.load()
    assert set(policy.classes) >= CLASSES
    assert policy.classes["audit"].action == "keep"
    assert all(c.action == "delete" for name, c in policy.classes.items() if name != "audit")


@pytest.mark.parametrize("service", retention_policy.SERVICES)
def test_the_shipped_policy_names_only_what_each_services_schema_has(service: str) -> None:
    """Every table and column the policy names for a service is in its tables.SCHEMA."""
    schema = importlib.import_module(f"services.{service}.tables").SCHEMA
    retention_policy.load().check(service, retention_policy.metadata_columns(*schema))


def test_no_rule_of_the_shipped_policy_touches_the_audit_log() -> None:
    policy = retention_policy.load()
    for service in retention_policy.SERVICES:
        for rule in policy.rules(service):
            touched = {rule.tables, *(hop.table for hop in rule.through)}
            assert not touched & retention_policy.APPEND_ONLY, (service, rule)


def test_rules_dated_through_other_tables_come_before_the_tables_they_are_dated_by(tmp_path: Path) -> None:
    """A quarantined row goes before its batch, or it would lose its date and never expire."""
    assert retention_policy.load().rules("kintell") == (
        Rule("quarantined_rows", "created_at", timedelta(days=90), through=(Hop("import_batches", ("batch_id",)),)),
        Rule("import_batches", "created_at", timedelta(days=90)),
    )


def test_a_service_the_policy_does_not_name_has_no_rules(tmp_path: Path) -> None:
    assert retention_policy.load(_write(tmp_path, VALID)).rules("kintell") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace("meaning:", "maening:"), "classes.evidence.maening: unknown key"),
        (VALID.replace("timestamp:", "stamp: x, timestamp:"), "classes.evidence.covers[0].stamp: unknown key"),
        (VALID + "extra: 1\n", "extra: unknown key"),
        (VALID.replace("365", "-1"), "classes.evidence.max_age_days: Input should be greater than 0"),
        (VALID.replace("365", "0"), "classes.evidence.max_age_days: Input should be greater than 0"),
        (VALID.replace("service: q2q", "service: q2g"), "classes.evidence.covers[0].service: Input should be"),
        (VALID.replace("version: 1", "version: 2"), "version: Input should be 1"),
        (VALID.replace("q2q_evidence", "q2q-evidence"), "classes.evidence.covers[0].table: String should match"),
        (VALID.replace("meaning: snippets", "meaning: ''"), "classes.evidence.meaning: String should have at least"),
        (VALID + "  evidence:\n    max_age_days: 1\n", "duplicate keys: evidence"),
        ("version: [1\n", "not valid YAML"),
    ],
    ids=[
        "unknown-class-key",
        "unknown-cover-key",
        "unknown-top-key",
        "negative-age",
        "zero-age",
        "unknown-service",
        "unknown-version",
        "bad-table-name",
        "empty-meaning",
        "duplicate-class",
        "not-yaml",
    ],
)
def test_a_malformed_policy_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RetentionPolicyError) as refused:
        retention_policy.load(path)
    assert str(path) in str(refused.value)
    assert message in str(refused.value)


AUDIT = """
version: 1
classes:
  audit:
    max_age_days: 2190
    meaning: the audit log
    covers:
      - {service: gateway, table: audit_records, timestamp: recorded_at}
"""


def test_a_class_that_would_delete_audit_records_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RetentionPolicyError, match=r"classes\.audit: audit_records \(gateway\) is append-only"):
        retention_policy.load(_write(tmp_path, AUDIT))


def test_a_class_dated_through_the_audit_log_is_refused_too(tmp_path: Path) -> None:
    text = AUDIT.replace(
        "{service: gateway, table: audit_records, timestamp: recorded_at}",
        "{service: gateway, table: privacy_sections, timestamp: recorded_at,"
        " through: [{table: audit_records, columns: [request_id]}]}",
    )
    with pytest.raises(RetentionPolicyError, match=r"audit_records \(gateway\) is append-only"):
        retention_policy.load(_write(tmp_path, text))


def test_the_audit_log_kept_gives_no_rule(tmp_path: Path) -> None:
    policy = retention_policy.load(_write(tmp_path, AUDIT.replace("    meaning:", "    action: keep\n    meaning:")))
    assert policy.rules("gateway") == ()


def test_a_row_dated_by_a_table_deleted_sooner_is_refused(tmp_path: Path) -> None:
    """Quarantined rows kept 90 days dated by batches kept 30 would lose their date at 30 and never expire."""
    text = """
version: 1
classes:
  quarantined_rows:
    max_age_days: 90
    meaning: rejected rows
    covers:
      - service: kintell
        table: quarantined_rows
        timestamp: created_at
        through: [{table: import_batches, columns: [batch_id]}]
  raw_imports:
    max_age_days: 30
    meaning: batches
    covers:
      - {service: kintell, table: import_batches, timestamp: created_at}
"""
    never = r"import_batches, which raw_imports deletes sooner \(30 days\): its rows would never expire"
    with pytest.raises(RetentionPolicyError, match=never):
        retention_policy.load(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({}, "retention class evidence: q2q has no table q2q_evidence"),
        ({"q2q_evidence": {"snippet"}}, "retention class evidence: q2q q2q_evidence has no column created_at"),
    ],
)
def test_a_table_or_column_the_schema_lacks_is_named_with_its_class(
    tmp_path: Path, columns: dict[str, set[str]], message: str
) -> None:
    policy = retention_policy.load(_write(tmp_path, VALID))
    with pytest.raises(RetentionPolicyError, match=message):
        policy.check("q2q", columns)
    policy.check("q2q", {"q2q_evidence": {"created_at"}})
