"""Retention sweep figures at size: `python -m tests.load.retention_bench --rows 100000` fills, for each service
with retention rules, every table its rules sweep (and their parents) with `--rows` rows, 1 % of them older
than any class's age, once at the revision before its retention indexes and once at that revision, and times
each rule's delete: the first sweep (the expired 1 % go, in batches of 500) and then a sweep with nothing
left to delete (the hourly steady state), the median of five. The gateway's export sections are dated by
requests that stay for good, so its shape is `--rows` requests over three years with sections for the last
month's; it is timed as shipped (the sections read whole) and with an index on the requests' completed_at.
`--backend postgresql` runs on PostgreSQL (tests/postgres.py finds the server)."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.kit.persistence import db, retention, retention_policy
from tests import postgres
from tests.integration.kit.persistence.old_rows import filled

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# Older than every class that deletes (the longest, scores, keeps 1095 days).
EXPIRED = NOW - timedelta(days=4000)
# Values the tables' CHECK constraints accept.
GIVEN = {"privacy_requests": {"kind": "export", "status": "completed"}}
STEADY_RUNS = 5
COMPLETED_AT_INDEX = "CREATE INDEX ix_bench_completed_at ON privacy_requests (completed_at)"
CHUNK = 10_000


def _revisions(service: str) -> tuple[str, str]:
    """(the revision before the service's retention indexes, the retention indexes' revision)."""
    migrations = importlib.import_module(f"services.{service}.bootstrap").MIGRATIONS
    (path,) = (migrations / "versions").glob("*_retention_indexes.py")
    found = re.search(r'^down_revision = "(\w+)"', path.read_text(), re.MULTILINE)
    assert found is not None, path
    return found.group(1), path.name.split("_")[0]


def _swept_tables(engine: sa.Engine, rules: tuple[retention.Rule, ...]) -> list[sa.Table]:
    """The tables the rules delete from or date through, with every table they reference, parents first."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    wanted = {name for rule in rules for name in (rule.tables, *(hop.table for hop in rule.through))}
    while parents := {key.column.table.name for name in wanted for key in metadata.tables[name].foreign_keys} - wanted:
        wanted |= parents
    return [table for table in metadata.sorted_tables if table.name in wanted]


def _moment(n: int) -> datetime:
    """Row n's time: every hundredth row is expired in every class, the rest younger than any class's age."""
    return EXPIRED - timedelta(seconds=n) if n % 100 == 0 else NOW - timedelta(seconds=n)


def _given(table: sa.Table, n: int) -> dict[str, Any]:
    """What row n of `table` must hold: values its checks accept, and its time in every timestamp column."""
    moments = {c.name: _moment(n) for c in table.columns if isinstance(c.type, sa.DateTime)}
    return GIVEN.get(table.name, {}) | moments


def _row(table: sa.Table, n: int) -> dict[str, Any]:
    row = filled(table, n, _given(table, n))
    for constraint in table.foreign_key_constraints:
        # Row n of a child belongs to row n of its parent, so it ages with it.
        parent = constraint.referred_table
        parent_row = filled(parent, n, _given(parent, n))
        for element in constraint.elements:
            row[element.parent.name] = parent_row[element.column.name]
    return row


def fill(engine: sa.Engine, rules: tuple[retention.Rule, ...], rows: int) -> None:
    """`rows` rows in every swept table, then the planner's statistics."""
    tables = _swept_tables(engine, rules)
    with engine.begin() as connection:
        for table in tables:
            for start in range(0, rows, CHUNK):
                connection.execute(table.insert(), [_row(table, n) for n in range(start, min(start + CHUNK, rows))])
    _analyze(engine)


@contextmanager
def _delete_time(engine: sa.Engine) -> Iterator[list[float]]:
    """Seconds the database spent in each DELETE run inside the block (the sweep's own cost, without its
    reflection of the table)."""
    spent: list[float] = []
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        begun = started.pop()
        if statement.lstrip().upper().startswith("DELETE"):
            spent.append(time.perf_counter() - begun)

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def _analyze(engine: sa.Engine) -> None:
    """The planner's statistics, as a database in service gathers them."""
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))


def _sweep(engine: sa.Engine, rule: retention.Rule) -> tuple[float, float, int]:
    """One sweep of one rule: (ms in all, ms in its deletes, rows deleted)."""
    sweep = retention.Retention(engine, [rule], interval=3600, clock=lambda: NOW)
    with _delete_time(engine) as spent:
        started = time.perf_counter()
        deleted = sum(sweep.sweep().values())
        total = time.perf_counter() - started
    return total * 1000, sum(spent) * 1000, deleted


def timings(engine: sa.Engine, rules: tuple[retention.Rule, ...]) -> dict[str, dict[str, float]]:
    """Per rule, in sweep order: the first sweep (ms in all, ms deleting, rows deleted); then, once every rule
    has run, the median of sweeps deleting none."""
    figures: dict[str, dict[str, float]] = {}
    for rule in rules:
        first_ms, first_delete_ms, deleted = _sweep(engine, rule)
        figures[rule.tables] = {"first_ms": round(first_ms, 1), "first_delete_ms": round(first_delete_ms, 1)}
        figures[rule.tables]["deleted"] = deleted
    for rule in rules:
        steady = [_sweep(engine, rule) for _ in range(STEADY_RUNS)]
        figures[rule.tables]["steady_ms"] = round(statistics.median(s[0] for s in steady), 2)
        figures[rule.tables]["steady_delete_ms"] = round(statistics.median(s[1] for s in steady), 2)
    return figures


def measure(service: str, rows: int, urls: Iterator[str]) -> dict[str, Any]:
    """The service's sweeps at the revision before its retention indexes and at it (indexes built on full tables)."""
    migrations = importlib.import_module(f"services.{service}.bootstrap").MIGRATIONS
    before, indexed = _revisions(service)
    rules = retention_policy.load().rules(service)
    figures: dict[str, Any] = {"service": service, "rows": rows}
    for label, revision in (("before", before), ("after", indexed)):
        url = next(urls)
        db.upgrade(url, migrations, before)
        engine = db.create_engine(url)
        try:
            fill(engine, rules, rows)
            if revision != before:
                started = time.perf_counter()
                db.upgrade(url, migrations, revision)
                figures["index_build_seconds"] = round(time.perf_counter() - started, 2)
                _analyze(engine)
            figures[label] = timings(engine, rules)
        finally:
            engine.dispose()
    return figures


@contextmanager
def _databases(backend: str, folder: Path) -> Iterator[Iterator[str]]:
    """Fresh database URLs, one per call of next()."""
    if backend == "sqlite":
        yield (db.sqlite_url(folder / f"bench-{n}.db") for n in range(1_000_000))
        return
    with ExitStack() as stack:
        admin_url = stack.enter_context(postgres.admin_server())

        def fresh() -> Iterator[str]:
            while True:
                name = f"teei_retention_bench_{uuid.uuid4().hex[:8]}"
                yield stack.enter_context(postgres.databases(admin_url, {"db": name}))["db"]

        yield fresh()


def dsr_bundles(service: str, rows: int, urls: Iterator[str]) -> dict[str, Any]:
    """The gateway's sweep of export sections: `rows` completed export requests over three years, three
    sections for each of those completed within the last 31 days (the oldest day's expire); timed at head,
    and with an index on privacy_requests.completed_at (left out: a range on it walks every old request)."""
    migrations = importlib.import_module(f"services.{service}.bootstrap").MIGRATIONS
    rules = retention_policy.load().rules(service)
    figures: dict[str, Any] = {"service": service, "rows": rows, "shape": "requests kept, a month of sections"}
    for label, index in (("read_whole", ""), ("completed_at_index", COMPLETED_AT_INDEX)):
        url = next(urls)
        db.upgrade(url, migrations)
        engine = db.create_engine(url)
        try:
            _fill_requests(engine, rows)
            if index:
                with engine.begin() as connection:
                    connection.execute(sa.text(index))
            _analyze(engine)
            figures[label] = timings(engine, rules)
        finally:
            engine.dispose()
    return figures


def _fill_requests(engine: sa.Engine, rows: int) -> None:
    metadata = sa.MetaData()
    metadata.reflect(engine, only=["privacy_requests", "privacy_sections"])
    requests, sections = metadata.tables["privacy_requests"], metadata.tables["privacy_sections"]
    spacing = timedelta(days=3 * 365) / rows
    with engine.begin() as connection:
        for start in range(0, rows, CHUNK):
            batch = []
            for n in range(start, min(start + CHUNK, rows)):
                completed = NOW - n * spacing
                moments = {c.name: completed for c in requests.columns if isinstance(c.type, sa.DateTime)}
                batch.append(filled(requests, n, GIVEN["privacy_requests"] | moments))
            connection.execute(requests.insert(), batch)
            recent = [row for row in batch if row["completed_at"] > NOW - timedelta(days=31)]
            if recent:
                connection.execute(
                    sections.insert(),
                    [
                        filled(sections, n, {"request_id": row["request_id"], "service": service})
                        for n, row in enumerate(recent)
                        for service in ("profile", "q2q", "kintell")
                    ],
                )


SHAPED = {"gateway": dsr_bundles}


def main() -> None:
    """Measures every service with retention rules (or those named), prints the figures as JSON lines."""
    swept = [service for service in retention_policy.SERVICES if retention_policy.load().rules(service)]
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--service", action="append", choices=swept, help="default: every swept service")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="teei-retention-bench-") as folder,
        _databases(args.backend, Path(folder)) as urls,
    ):
        for service in args.service or swept:
            figures = SHAPED.get(service, measure)(service, args.rows, urls)
            print(json.dumps({"backend": args.backend, **figures}), flush=True)


if __name__ == "__main__":
    main()
