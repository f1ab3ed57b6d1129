"""Structured JSON logging; per-call fields (request id, RPC method, tenant) come from contextvars."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog
from opentelemetry import trace

_REDACTED_KEYS = frozenset({"authorization", "password", "secret", "token", "database_url"})


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _REDACTED_KEYS.intersection(event):
        event[key] = "***"
    return event


def trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Joins a line logged inside a span to its trace: `trace_id` and `span_id` in W3C hex."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(span_context.trace_id))
        event.setdefault("span_id", trace.format_span_id(span_context.span_id))
    return event


class _LateStderr(io.TextIOBase):
    """Writes to whatever `sys.stderr` is at the time of the write (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR: TextIO = cast(TextIO, _LateStderr())


def configure(*, service: str, level: str = "info", stream: TextIO | None = None) -> None:
    """Configures structlog (and stdlib logging) to write one JSON object per line to stdout (services)
    or `stream` (the CLI logs to stderr, so its output can be piped)."""
    stream = stream or sys.stdout
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    logging.basicConfig(level=numeric, stream=stream, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            trace_ids,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    # The pid tells apart the lines of a process and of its successor: a roll overlaps them on one log file.
    structlog.contextvars.bind_contextvars(service=service, pid=os.getpid())


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger for one module."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(module=name)
    return logger
