"""`teei traces list|get`: the traces the local receiver stored under var/telemetry (the `otel`
resource of `teei up`). `list` shows recent traces; `get TRACE_ID` draws a terminal waterfall, or
prints every span as JSON with `--json`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from services.cli import spec
from services.kit.telemetry import store

WIDTH = 40


def register(commands: Any) -> None:
    """Adds the `traces` command to the `teei` parser."""
    traces = commands.add_parser("traces", help="list or show the traces stored by the local receiver")
    traces.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var")
    actions = traces.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="recent traces: root route, duration, services, status")
    listing.add_argument("--limit", type=int, default=20)
    get = actions.add_parser("get", help="one trace as a waterfall (or every span with --json)")
    get.add_argument("trace_id")
    get.add_argument("--json", action="store_true", help="print every span as JSON")
    traces.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs one action; 1 when the trace asked for is not stored."""
    spans = store.SpanStore(args.var_dir / "telemetry")
    if args.action == "list":
        print(render_list(store.summaries(spans.spans())[: max(args.limit, 0)]))
        return 0
    found = spans.trace(args.trace_id)
    if not found:
        print(f"no trace {args.trace_id} in {spans.path}")
        return 1
    print(json.dumps(as_json(found), indent=2) if args.json else render_waterfall(found))
    return 0


def render_list(summaries: list[store.TraceSummary]) -> str:
    """A table of traces, most recent first."""
    lines = [f"{'TRACE ID':32}  {'DURATION':>10}  {'STATUS':6}  {'SPANS':>5}  ROOT / SERVICES"]
    for item in summaries:
        status = "ERROR" if item.error else "OK"
        services = ",".join(item.services)
        lines.append(
            f"{item.trace_id:32}  {item.duration_ms:>8.1f}ms  {status:6}  {item.spans:>5}  {item.root}  [{services}]"
        )
    return "\n".join(lines)


def as_json(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every span with its ids, service, name, start/end (RFC 3339-free: Unix nanoseconds), status and attributes."""
    keys = ("trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_unix_nano", "end_unix_nano")
    return [
        {**{key: span[key] for key in keys}, "status": span["status"], "attributes": span["attributes"]}
        for span in spans
    ]


def render_waterfall(spans: list[dict[str, Any]]) -> str:
    """One line per span, indented under its parent, with a bar placed on the trace's time line."""
    start = min(s["start_unix_nano"] for s in spans)
    total = max(max(s["end_unix_nano"] for s in spans) - start, 1)
    lines = [f"trace {spans[0]['trace_id']}  {total / 1e6:.1f} ms  {len(spans)} spans"]
    for depth, span in _ordered(spans):
        offset = round((span["start_unix_nano"] - start) / total * WIDTH)
        length = max(round((span["end_unix_nano"] - span["start_unix_nano"]) / total * WIDTH), 1)
        bar = (" " * offset + "█" * length).ljust(WIDTH)[:WIDTH]
        duration = (span["end_unix_nano"] - span["start_unix_nano"]) / 1e6
        mark = " !" if span["status"]["code"] == "ERROR" else ""
        label = f"{'  ' * depth}{span['service']}: {span['name']}"
        lines.append(f"|{bar}| {duration:>9.2f}ms  {label}{mark}")
    return "\n".join(lines)


def _ordered(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first from the roots, children by start time; a span whose parent is missing is a root."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[int, dict[str, Any]]] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_unix_nano"]):
            out.append((depth, span))
            visit(span["span_id"], depth + 1)

    visit(None, 0)
    return out
