"""One in-memory span exporter for the process: the global tracer provider can be set only once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.telemetry import tracing

_EXPORTER = InMemorySpanExporter()
_installed: list[tracing.Tracing] = []


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (the project's tracing, configured once with this exporter)."""
    if not _installed:
        configured = tracing.configure("test", {}, SimpleSpanProcessor(_EXPORTER))
        assert configured is not None
        assert trace.get_tracer_provider() is configured.provider
        _installed.append(configured)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()
