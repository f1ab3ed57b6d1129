"""The shipped retention policy on real, migrated service databases: each data class loses exactly its rows
older than the class's max age, the audit log none, and a service refuses to start on a policy naming what
its database lacks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap as buddy_bootstrap
from services.gateway import bootstrap as gateway_bootstrap
from services.kintell import bootstrap as kintell_bootstrap
from services.kit.config import ServiceConfig
from services.kit.grpc.server import GrpcServer
from services.kit.persistence import db, retention, retention_policy
from services.kit.persistence.retention_policy import RetentionPolicyError
from services.profile import bootstrap as profile_bootstrap
from services.q2q import bootstrap as q2q_bootstrap
from services.safety import bootstrap as safety_bootstrap
from services.upskilling import bootstrap as upskilling_bootstrap
from tests.integration.kit.persistence.test_retention import NOW, _ago, _insert, _left, _migrated

BOOTSTRAPS = {
    "gateway": gateway_bootstrap,
    "profile": profile_bootstrap,
    "kintell": kintell_bootstrap,
    "buddy": buddy_bootstrap,
    "upskilling": upskilling_bootstrap,
    "q2q": q2q_bootstrap,
    "safety": safety_bootstrap,
}


def _engine(tmp_path: Path, service: str, url: str | None = None) -> Iterator[sa.Engine]:
    yield from _migrated(url or db.sqlite_url(tmp_path / f"{service}.db"), BOOTSTRAPS[service].MIGRATIONS)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for a SQLite file of the test's own, else a fresh PostgreSQL database."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else None


def _sweep(engine: sa.Engine, service: str) -> dict[str, int]:
    rules = retention_policy.load().rules(service)
    return retention.Retention(engine, rules, interval=3600, clock=lambda: NOW).sweep()


def test_every_service_with_a_database_is_named() -> None:
    assert set(BOOTSTRAPS) == set(retention_policy.SERVICES)


@pytest.mark.parametrize("service", retention_policy.SERVICES)
def test_the_shipped_policy_matches_each_migrated_database(tmp_path: Path, service: str) -> None:
    for engine in _engine(tmp_path, service):
        retention_policy.load().check(service, retention_policy.schema_columns(engine))


@pytest.fixture(params=["kintell", "buddy", "upskilling"])
def connector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    for engine in _engine(tmp_path, request.param):
        yield request.param, engine


def _batch(batch_id: str, created_at: datetime) -> dict[str, object]:
    return {"batch_id": batch_id, "rows_total": 3, "rows_stored": 1, "rows_quarantined": 2, "created_at": created_at}


def _quarantined(*batches: str) -> list[dict[str, object]]:
    return [{"batch_id": b, "row_number": n, "raw": "{}", "errors": "[]"} for b in batches for n in (2, 3)]


def test_import_batches_and_their_quarantined_rows_go_after_90_days(connector: tuple[str, sa.Engine]) -> None:
    service, engine = connector
    _insert(engine, "import_batches", _batch("old", _ago(days=90, seconds=1)), _batch("recent", _ago(days=89)))
    _insert(
        engine,
        "quarantined_rows",
        *_quarantined("old", "recent"),
    )
    assert _sweep(engine, service) == {"quarantined_rows": 2, "import_batches": 1}
    assert _left(engine, "import_batches", "batch_id") == ["recent"]
    assert _left(engine, "quarantined_rows", "batch_id") == ["recent", "recent"]


def _request(request_id: str, completed_at: datetime | None) -> dict[str, object]:
    status = "in_progress" if completed_at is None else "completed"
    return {
        "request_id": request_id,
        "kind": "export",
        "status": status,
        "own": True,
        "created_at": _ago(days=60),
        "due_at": _ago(days=30),
        "completed_at": completed_at,
    }


def test_an_export_bundle_goes_30_days_after_completion_and_its_request_stays(
    tmp_path: Path, database_url: str | None
) -> None:
    for engine in _engine(tmp_path, "gateway", database_url):
        _insert(
            engine,
            "privacy_requests",
            _request("expired", _ago(days=30, seconds=1)),
            _request("recent", _ago(days=29)),
            _request("unfinished", None),
        )
        sections: list[dict[str, object]] = [
            {"request_id": r, "service": s, "body": b"{}"}
            for r in ("expired", "recent", "unfinished")
            for s in ("kintell", "q2q")
        ]
        _insert(engine, "privacy_sections", *sections)
        assert _sweep(engine, "gateway") == {"privacy_sections": 2}
        assert _left(engine, "privacy_sections", "request_id") == ["recent", "recent", "unfinished", "unfinished"]
        assert _left(engine, "privacy_requests", "request_id") == ["expired", "recent", "unfinished"]


def _score(score_id: str, created_at: datetime, classification_id: str | None = None) -> dict[str, object]:
    return {
        "score_id": score_id,
        "company_id": "acme",
        "classification_id": classification_id,
        "score": 0.5,
        "confidence": 0.9,
        "created_at": created_at,
    }


def test_q2q_evidence_goes_after_a_year_and_scores_after_three(tmp_path: Path, database_url: str | None) -> None:
    """Evidence older than 365 days goes with its links to scores (the scores stay); scores and their
    classifications older than 1095 days go."""
    for engine in _engine(tmp_path, "q2q", database_url):
        _insert(
            engine,
            "q2q_classifications",
            {"classification_id": "old", "source_id": "s1", "created_at": _ago(days=1095, seconds=1)},
            {"classification_id": "recent", "source_id": "s2", "created_at": _ago(days=1094)},
        )
        _insert(
            engine,
            "q2q_scores",
            _score("old", _ago(days=1095, seconds=1), "old"),
            _score("recent", _ago(days=1094), "recent"),
            _score("manual", _ago(days=10)),
        )
        evidence = {"company_id": "acme", "label": "l", "snippet": "s"}
        _insert(
            engine,
            "q2q_evidence",
            {**evidence, "evidence_hash": "old", "created_at": _ago(days=365, seconds=1)},
            {**evidence, "evidence_hash": "recent", "created_at": _ago(days=364)},
        )
        link = {"company_id": "acme", "start_offset": 0, "end_offset": 1}
        _insert(
            engine,
            "q2q_score_evidence",
            {**link, "score_id": "manual", "evidence_hash": "old"},
            {**link, "score_id": "manual", "evidence_hash": "recent"},
            {**link, "score_id": "old", "evidence_hash": "recent"},
        )
        counts = _sweep(engine, "q2q")
        assert counts == {"q2q_score_evidence": 1, "q2q_evidence": 1, "q2q_scores": 1, "q2q_classifications": 1}
        assert _left(engine, "q2q_evidence", "evidence_hash") == ["recent"]
        assert _left(engine, "q2q_scores", "score_id") == ["manual", "recent"]
        assert _left(engine, "q2q_classifications", "classification_id") == ["recent"]
        # The old score's link went with it (ON DELETE CASCADE); the manual score keeps its recent evidence.
        assert _left(engine, "q2q_score_evidence", "score_id || ':' || evidence_hash") == ["manual:recent"]


def test_safety_flags_go_after_a_year_with_their_reviews_and_decisions(
    tmp_path: Path, database_url: str | None
) -> None:
    for engine in _engine(tmp_path, "safety", database_url):
        flag = {"is_unsafe": True, "requires_review": True}
        _insert(
            engine,
            "safety_flags",
            {**flag, "flag_id": "old", "created_at": _ago(days=365, seconds=1)},
            {**flag, "flag_id": "recent", "created_at": _ago(days=364)},
        )
        # The old flag's review was created and decided later than the flag: it still goes with the flag.
        _insert(
            engine,
            "safety_reviews",
            {"review_id": "r-old", "flag_id": "old", "version": 2, "priority": 1, "created_at": _ago(days=300)},
            {"review_id": "r-recent", "flag_id": "recent", "version": 2, "priority": 1, "created_at": _ago(days=364)},
        )
        _insert(
            engine,
            "safety_review_actions",
            {"action_id": 1, "review_id": "r-old", "decided_at": _ago(days=200)},
            {"action_id": 2, "review_id": "r-recent", "decided_at": _ago(days=300)},
        )
        counts = _sweep(engine, "safety")
        assert counts == {"safety_review_actions": 1, "safety_reviews": 1, "safety_flags": 1}
        assert _left(engine, "safety_flags", "flag_id") == ["recent"]
        assert _left(engine, "safety_reviews", "review_id") == ["r-recent"]
        assert _left(engine, "safety_review_actions", "review_id") == ["r-recent"]


def test_the_audit_log_is_never_swept(tmp_path: Path) -> None:
    """Audit records far past the audit class's period stay: the task has no rule over them."""
    for engine in _engine(tmp_path, "kintell"):
        record = {"sequence": 1, "recorded_at": _ago(days=10_000)}
        _insert(engine, "audit_records", record)
        assert "audit_records" not in _sweep(engine, "kintell")
        assert len(_left(engine, "audit_records", "sequence")) == 1


@pytest.mark.parametrize(("service", "bootstrap"), [("kintell", kintell_bootstrap)], ids=["kintell"])
async def test_the_server_enforces_the_policy_besides_the_kit_defaults(
    tmp_path: Path, service: str, bootstrap: ModuleType
) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "var")
    server = GrpcServer(bootstrap.build(config))
    assert server.retention is not None
    rules = server.retention.rules
    assert set(retention_policy.load().rules(service)) <= set(rules)
    assert set(retention.default_rules(config)) <= set(rules)


async def test_a_service_does_not_start_on_a_policy_naming_what_its_database_lacks(tmp_path: Path) -> None:
    policy = tmp_path / "retention.yaml"
    policy.write_text(
        "version: 1\nclasses:\n  evidence:\n    max_age_days: 365\n    meaning: flags\n    covers:\n"
        "      - {service: profile, table: profile_flags, timestamp: flagged_at}\n"
    )
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "var", retention_policy=policy)
    service = profile_bootstrap.build(config)
    with pytest.raises(RetentionPolicyError, match="retention class evidence: profile profile_flags has no column"):
        GrpcServer(service)
