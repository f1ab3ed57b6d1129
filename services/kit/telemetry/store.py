"""The local span store: spans as JSON lines under `var/telemetry/`, written by the OTLP receiver and
read by `teei traces`. One line per span; the file is rotated once (to `.1`) when it grows too large."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

SPANS_FILE = "spans.jsonl"
MAX_BYTES = 64 * 1024 * 1024
_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def value_of(value: common_pb2.AnyValue) -> Any:
    """An OTLP attribute value as plain JSON data."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in pairs}


def span_records(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[dict[str, Any]]:
    """Every span of an OTLP export request as a flat record naming its service."""
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name", "unknown"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _record(span, service)


def _record(span: trace_pb2.Span, service: str) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "service": service,
        "name": span.name,
        "kind": _KINDS.get(span.kind, str(span.kind)),
        "start_unix_nano": span.start_time_unix_nano,
        "end_unix_nano": span.end_time_unix_nano,
        "status": {"code": _STATUS.get(span.status.code, str(span.status.code)), "message": span.status.message},
        "attributes": _attributes(span.attributes),
        "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()} for link in span.links],
    }


class SpanStore:
    """Appends span records to `folder`/spans.jsonl (thread-safe) and reads them back."""

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder
        self.path = folder / SPANS_FILE
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Writes `records`, one JSON object a line; the number written."""
        lines = [json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n" for record in records]
        if not lines:
            return 0
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > self._max_bytes:
                self.path.replace(self.path.with_suffix(".jsonl.1"))
            with self.path.open("a", encoding="utf-8") as out:
                out.write("".join(lines))
        return len(lines)

    def spans(self) -> list[dict[str, Any]]:
        """Every stored span, older file first; a line cut short by a crash is skipped."""
        found: list[dict[str, Any]] = []
        for path in (self.path.with_suffix(".jsonl.1"), self.path):
            if path.exists():
                found.extend(_read(path))
        return found

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of one trace, by start time."""
        wanted = trace_id.lower()
        return sorted((s for s in self.spans() if s["trace_id"] == wanted), key=lambda s: s["start_unix_nano"])


def _read(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "trace_id" in record:
                yield record


@dataclass(frozen=True)
class TraceSummary:
    """One trace at a glance: its root, duration, services and whether any span failed."""

    trace_id: str
    root: str
    start_unix_nano: int
    duration_ms: float
    services: tuple[str, ...]
    spans: int
    error: bool


def summaries(spans: Iterable[dict[str, Any]]) -> list[TraceSummary]:
    """Traces of `spans`, most recent first."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    found = [_summary(trace_id, members) for trace_id, members in by_trace.items()]
    return sorted(found, key=lambda t: t.start_unix_nano, reverse=True)


def root_of(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace's root span: the one whose parent is not among them (the earliest such)."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] not in ids]
    return min(roots or spans, key=lambda s: s["start_unix_nano"])


def _summary(trace_id: str, spans: list[dict[str, Any]]) -> TraceSummary:
    root = root_of(spans)
    start = min(s["start_unix_nano"] for s in spans)
    end = max(s["end_unix_nano"] for s in spans)
    return TraceSummary(
        trace_id=trace_id,
        root=route_of(root),
        start_unix_nano=start,
        duration_ms=(end - start) / 1e6,
        services=tuple(sorted({s["service"] for s in spans})),
        spans=len(spans),
        error=any(s["status"]["code"] == "ERROR" for s in spans),
    )


def route_of(span: dict[str, Any]) -> str:
    """What a root span served: the HTTP method and path at the edge, else the span's name."""
    attributes = span["attributes"]
    path = attributes.get("http.url") or attributes.get("url.path") or attributes.get("upstream_cluster.name")
    method = attributes.get("http.method") or attributes.get("http.request.method")
    if method and isinstance(path, str):
        return f"{method} {path}"
    return str(span["name"])
