"""Slow statements are logged by name and duration, never with their parameter values."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from services.kit.persistence import slow_queries


def test_a_statement_is_named_by_its_comment_or_its_verb_and_table() -> None:
    assert slow_queries.statement_name("-- name: outbox.pending\nSELECT * FROM outbox") == "outbox.pending"
    assert slow_queries.statement_name("SELECT a FROM profiles WHERE email = 'x@y'") == "select profiles"
    assert slow_queries.statement_name('INSERT INTO "inbox" (a) VALUES (?)') == "insert inbox"


def test_a_statement_over_the_threshold_is_logged_without_its_parameters() -> None:
    engine = sa.create_engine("sqlite://")
    slow_queries.watch(engine, threshold=-1.0)
    with capture_logs() as logs, engine.connect() as connection:
        connection.execute(sa.text("SELECT :secret AS value"), {"secret": "hunter2-parameter"})
    slow = [entry for entry in logs if entry["event"] == "slow_query"]
    assert slow
    assert slow[0]["statement"] == "select"
    assert "hunter2-parameter" not in repr(logs)


@pytest.mark.parametrize("value", ["", "not-a-number"])
def test_a_bad_threshold_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(slow_queries.THRESHOLD_ENV, value)
    assert slow_queries.threshold_ms() == slow_queries.DEFAULT_THRESHOLD_MS
