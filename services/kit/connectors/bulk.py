"""Bulk work (a CSV import): the interpreter's full garbage collections deferred, and rows inserted
through one compiled statement.

An import builds tens of thousands of long-lived objects (rows, records, sealed values, events) in one
request. CPython runs a full collection each time enough of them survive the younger generations, and
each full collection walks every object of the process: on a 50,000-row import that was ~18 % of its CPU.
While any import runs, full collections wait (young ones still run, so short-lived cycles are still
freed); when the last import ends the process's thresholds are restored and the next full collection
comes at its usual pace. Process-wide, so concurrent imports share one deferral (counted).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

# Full collections wait for this many collections of the middle generation (default 10): far more than
# one import triggers, so none runs during it.
DEFERRED_FULL = 1_000_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def deferred_full_collections() -> Iterator[None]:
    """Runs the block with full collections deferred (see the module); thresholds restored after."""
    global _active, _saved  # noqa: PLW0603 - one process-wide deferral shared by concurrent imports
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            young, middle, _ = _saved
            gc.set_threshold(young, middle, DEFERRED_FULL)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


def insert_rows(session: orm.Session, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, chunk: int) -> None:
    """Inserts rows (all with the first row's keys) with one executemany per chunk of `chunk` rows.

    On SQLite (positional parameters) the statement is compiled once and each value goes through its
    column's own bind processor, in the order the statement names them: the SQL and parameters
    `session.execute(table.insert(), rows)` sends, without its per-row parameter machinery (about half of
    the Python time of a large import's session inserts). Elsewhere, and for tables with Python-side
    defaults that rows leave out (SQLAlchemy fills those in per row), that call itself is made."""
    if not rows:
        return
    connection = session.connection()
    keys = list(rows[0])
    if connection.dialect.paramstyle != "qmark" or _python_defaults(table, keys):
        for start in range(0, len(rows), chunk):
            session.execute(table.insert(), rows[start : start + chunk])
        return
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    binds = [compiled.binds[name] for name in compiled.positiontup or ()]
    processors = [(bind.key, bind.type.dialect_impl(dialect).bind_processor(dialect)) for bind in binds]
    for start in range(0, len(rows), chunk):
        params = [
            tuple(row[key] if process is None else process(row[key]) for key, process in processors)
            for row in rows[start : start + chunk]
        ]
        connection.exec_driver_sql(compiled.string, params)


def _python_defaults(table: sa.Table, keys: Sequence[str]) -> bool:
    given = set(keys)
    return any(c.default is not None or c.onupdate is not None for c in table.c if c.key not in given)
