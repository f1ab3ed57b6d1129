"""The messaging hot paths (outbox pending, publish marks, inbox claims) read through an index: their
statements, captured as the code runs them, are explained, and on SQLite a full scan of the table or a sort
fails; on PostgreSQL the pending read must take its order from ix_outbox_pending."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import events
from services.kit.persistence import db
from services.profile import bootstrap as profile_bootstrap

GROWING = ("outbox", "inbox")


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
    engine: sa.Engine, work: Callable[[orm.Session], Any], *, explain: str = "EXPLAIN QUERY PLAN", setup: str = ""
) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
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
        ("inbox claim", lambda s: events.claim_once(s, consumer="c", event_id="e7")),
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
