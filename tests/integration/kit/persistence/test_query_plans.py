"""The messaging hot paths (outbox pending, publish marks; an inbox claim reads no row) and retention's deletes by
age read through an index: their statements, captured as the code runs them, are explained, and on SQLite a
full scan of the table or a sort fails; on PostgreSQL the pending read must take its order from
ix_outbox_pending, and each retention delete must read its range through the index named for it (but
the few it reads whole, READ_WHOLE)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import events
from services.kit.persistence import db, retention, retention_policy
from services.profile import bootstrap as profile_bootstrap
from tests.integration.kit.persistence.old_rows import AT, allowed_values
from tests.integration.kit.persistence.test_revision_steps import _fill, _row

GROWING = ("outbox", "inbox")
STATEMENTS = ("SELECT", "UPDATE", "DELETE")
# The index through which each retention rule reads its range of expired rows: (dating table, column) → index.
# A rule whose rows are dated through other tables reads its parents' index, then joins down by key.
RANGE_INDEXES = {
    ("import_batches", "created_at"): "ix_import_batches_created_at",
    ("q2q_evidence", "created_at"): "ix_q2q_evidence_created_at",
    ("q2q_scores", "created_at"): "ix_q2q_scores_created_at",
    ("q2q_classifications", "created_at"): "ix_q2q_classifications_created_at",
    ("safety_flags", "created_at"): "ix_safety_flags_created_at",
}
# Rule tables a sweep reads whole, finding the rows that date them by key. Export sections are kept 30 days
# after their request completed, the requests for good: reading a month of sections stays small as requests
# pile up, where a range on privacy_requests.completed_at would walk every request ever completed, each sweep.
READ_WHOLE = frozenset({"privacy_sections"})
SWEPT = [service for service in retention_policy.SERVICES if retention_policy.load().rules(service)]


def _engine(url: str) -> sa.Engine:
    db.upgrade(url, profile_bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            events.outbox.insert(),
            [
                {"event_id": f"e{n}", "event_type": "t", "envelope": b"x", "created_at": now, "published_at": now}
                for n in range(500)
            ],
        )
        connection.execute(
            events.inbox.insert(), [{"consumer": "c", "event_id": f"e{n}", "processed_at": now} for n in range(500)]
        )
        connection.execute(sa.text("ANALYZE"))
    return engine


def _plans(
    engine: sa.Engine,
    work: Callable[[orm.Session], Any],
    *,
    explain: str = "EXPLAIN QUERY PLAN",
    setup: str = "",
    statements: tuple[str, ...] = STATEMENTS,
) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(statements):
            captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with orm.Session(engine) as session, session.begin():
            work(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as connection:
        if setup:
            connection.exec_driver_sql(setup)
        return [
            " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {s}", p)) for s, p in captured
        ]


@pytest.mark.parametrize(
    ("name", "work"),
    [
        ("outbox pending", events.pending),
        ("outbox mark published", lambda s: events.mark_published(s, ["e1", "e2"])),
    ],
)
def test_a_hot_query_does_not_scan_a_growing_table(
    tmp_path: Path, name: str, work: Callable[[orm.Session], Any]
) -> None:
    plans = _plans(_engine(db.sqlite_url(tmp_path / "profile.db")), work)
    assert plans, f"{name}: no statement captured"
    for plan in plans:
        # `SCAN t USING INDEX i` still reads every row, in index order: only a SEARCH is bounded.
        scans = [table for table in GROWING if f"SCAN {table}" in plan]
        assert scans == [], f"{name}: full scan in {plan}"
        # A sort for ORDER BY reads every matching row before the LIMIT: the index must give the order.
        assert "TEMP B-TREE" not in plan, f"{name}: sorts in {plan}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_inbox_claim_is_one_insert_that_finds_a_claimed_event_by_its_key(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A claim reads no row: its INSERT finds an event already claimed through the inbox's primary key
    (consumer, event_id), and inserts nothing then."""
    url = db.sqlite_url(tmp_path / "profile.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = _engine(url)
    claims: list[bool] = []
    try:
        captured = _captured(
            engine,
            lambda s: claims.extend(events.claim_once(s, consumer="c", event_id=e) for e in ("e7", "new", "new")),
        )
    finally:
        engine.dispose()
    assert claims == [False, True, False]
    assert [statement.split()[0].upper() for statement in captured] == ["INSERT"] * 3


def _captured(engine: sa.Engine, work: Callable[[orm.Session], Any]) -> list[str]:
    captured: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
        captured.append(statement.lstrip())

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with orm.Session(engine) as session, session.begin():
            work(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    return [statement for statement in captured if not statement.upper().startswith(("BEGIN", "PRAGMA"))]


def test_the_outbox_pending_read_takes_its_order_from_the_index_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL takes `published_at IS NULL` for no equality when ordering: unless the read orders by
    published_at first, as ix_outbox_pending does, it fetches every pending row and sorts them."""
    engine = _engine(postgres_url)
    try:
        # 500 rows are few enough for a sequential scan: switched off, the plan shows how the index is read.
        plans = _plans(engine, events.pending, explain="EXPLAIN", setup="SET enable_seqscan = off")
    finally:
        engine.dispose()
    assert len(plans) == 1
    assert "ix_outbox_pending" in plans[0]
    assert "Sort" not in plans[0], plans[0]


def _swept_engine(url: str, service: str) -> sa.Engine:
    """The service's database at head with 500 rows in every table, ten times as many in the tables that
    date a table read whole (they are kept, it is not), its statistics gathered."""
    db.upgrade(url, importlib.import_module(f"services.{service}.bootstrap").MIGRATIONS)
    engine = db.create_engine(url)
    _fill(engine, 0, count=500)
    for rule in retention_policy.load().rules(service):
        if rule.tables in READ_WHOLE:
            _add_rows(engine, rule.through[-1].table, start=500, count=4500)
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))
    return engine


def _add_rows(engine: sa.Engine, name: str, *, start: int, count: int) -> None:
    table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    allowed = allowed_values(sa.inspect(engine).get_check_constraints(name), table)
    with engine.begin() as connection:
        connection.execute(table.insert(), [_row(table, start + n, {}) | allowed for n in range(count)])


def _retention_plans(engine: sa.Engine, rules: Sequence[retention.Rule], **explain: str) -> list[str]:
    """The plan of each rule's delete, in rule order: nothing is old enough to go, so each runs exactly once."""
    sweep = retention.Retention(engine, rules, interval=3600, clock=lambda: AT)
    return _plans(engine, lambda _: sweep.sweep(), statements=("DELETE",), **explain)


def _range_index(rule: retention.Rule) -> str:
    dated = rule.through[-1].table if rule.through else rule.tables
    return RANGE_INDEXES[(dated, rule.column)]


def _read_whole(rule: retention.Rule, plan: str) -> None:
    """Only the rule's own table is scanned, and each row's parent is found by the join's key."""
    assert set(re.findall(r"\bSCAN (\w+)", plan)) == {rule.tables}, f"{rule.tables}: {plan}"
    for hop in rule.through:
        key = re.escape(" AND ".join(f"{column}=?" for column in hop.on))
        assert re.search(rf"SEARCH {hop.table} USING (COVERING )?INDEX \w+ \({key}\)", plan), f"{rule.tables}: {plan}"


@pytest.mark.parametrize("service", SWEPT)
def test_each_retention_delete_reads_its_range_through_an_index(tmp_path: Path, service: str) -> None:
    """No table is scanned, neither to find the expired rows nor to check or cascade the foreign keys of
    the rows deleted: a sweep's cost follows the rows it deletes, not the size of the tables (but for a
    table the policy keeps small itself, READ_WHOLE)."""
    rules = retention_policy.load().rules(service)
    engine = _swept_engine(db.sqlite_url(tmp_path / f"{service}.db"), service)
    try:
        plans = _retention_plans(engine, rules)
    finally:
        engine.dispose()
    assert len(plans) == len(rules)
    for rule, plan in zip(rules, plans, strict=True):
        assert "TEMP B-TREE" not in plan, f"{rule.tables}: sorts in {plan}"
        if rule.tables in READ_WHOLE:
            _read_whole(rule, plan)
            continue
        assert f"INDEX {_range_index(rule)} " in plan, f"{rule.tables}: {plan}"
        assert re.findall(r"\bSCAN \w+", plan) == [], f"{rule.tables}: full scan in {plan}"


@pytest.mark.parametrize("service", SWEPT)
def test_each_retention_delete_reads_its_range_through_an_index_on_postgresql(service: str, postgres_url: str) -> None:
    """A table read whole is planned by PostgreSQL's statistics (a hash join or key lookups): not checked."""
    rules = retention_policy.load().rules(service)
    engine = _swept_engine(postgres_url, service)
    try:
        # 500 rows are few enough for a sequential scan: switched off, the plan shows which index is read.
        plans = _retention_plans(engine, rules, explain="EXPLAIN", setup="SET enable_seqscan = off")
    finally:
        engine.dispose()
    assert len(plans) == len(rules)
    ranged = [(rule, plan) for rule, plan in zip(rules, plans, strict=True) if rule.tables not in READ_WHOLE]
    for rule, plan in ranged:
        assert f" using {_range_index(rule)} on " in plan, f"{rule.tables}: {plan}"
        assert "Seq Scan" not in plan, f"{rule.tables}: {plan}"
