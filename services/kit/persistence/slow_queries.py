"""Slow statements logged by name, never with their parameters: `slow_query` with the statement's name
(the `-- name:` comment a query carries, else its verb and first table) and its duration."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from services.kit.logs import get_logger

log = get_logger(__name__)
THRESHOLD_ENV = "TEEI_SLOW_QUERY_MS"
DEFAULT_THRESHOLD_MS = 200.0
_STARTED = "teei_statement_started"
_NAMED = re.compile(r"--\s*name:\s*([\w.-]+)")


def threshold_ms() -> float:
    """The threshold in milliseconds (TEEI_SLOW_QUERY_MS, default 200)."""
    try:
        return float(os.environ.get(THRESHOLD_ENV, DEFAULT_THRESHOLD_MS))
    except ValueError:
        return DEFAULT_THRESHOLD_MS


def statement_name(statement: str) -> str:
    """A statement's name: its `-- name:` comment, else `<verb> <first table>`; never its values."""
    named = _NAMED.search(statement)
    if named:
        return named.group(1)
    verb = statement.strip().split(None, 1)[0].lower() if statement.strip() else "statement"
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", statement, re.I)
    return f"{verb} {table.group(1)}" if table else verb


def watch(engine: sa.Engine, *, threshold: float | None = None) -> None:
    """Logs every statement of `engine` that takes longer than the threshold."""
    limit = threshold_ms() if threshold is None else threshold

    def before(conn: sa.Connection, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def after(conn: sa.Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        started = conn.info.get(_STARTED) or [time.perf_counter()]
        elapsed_ms = (time.perf_counter() - started.pop()) * 1000
        if elapsed_ms > limit:
            log.warning("slow_query", statement=statement_name(statement), ms=round(elapsed_ms, 1), threshold_ms=limit)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
