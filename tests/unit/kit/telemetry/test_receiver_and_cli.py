"""The local OTLP receiver stores what an OTLP/HTTP exporter sends; `teei traces` reads it back."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from services.cli import traces
from services.cli.main import main
from services.kit.telemetry.receiver import Receiver
from services.kit.telemetry.store import SpanStore


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    running = Receiver("127.0.0.1", 0, SpanStore(tmp_path / "telemetry"))
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{running.server_address[1]}"
    finally:
        running.shutdown()
        running.server_close()


def _export(endpoint: str) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "kintell"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("teei.kintell.v1.KintellService/ImportSessions", kind=SpanKind.SERVER) as root:
        root.set_attribute("rpc.system", "grpc")
        with tracer.start_as_current_span("send teei.events.kintell.session.completed", kind=SpanKind.PRODUCER):
            pass
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_spans_sent_by_the_otlp_exporter_are_stored_and_listed(
    receiver: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = _export(receiver)
    spans = SpanStore(tmp_path / "telemetry").trace(trace_id)
    assert [s["name"] for s in spans] == [
        "teei.kintell.v1.KintellService/ImportSessions",
        "send teei.events.kintell.session.completed",
    ]
    assert spans[1]["parent_span_id"] == spans[0]["span_id"]
    assert {s["service"] for s in spans} == {"kintell"}

    with pytest.raises(SystemExit) as listed:
        main(["traces", "--var-dir", str(tmp_path), "list"])
    assert listed.value.code == 0
    assert trace_id in capsys.readouterr().out

    with pytest.raises(SystemExit) as got:
        main(["traces", "--var-dir", str(tmp_path), "get", trace_id, "--json"])
    assert got.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["attributes"] == {"rpc.system": "grpc"}
    assert set(printed[0]) >= {"trace_id", "span_id", "parent_span_id", "service", "name", "status", "attributes"}

    with pytest.raises(SystemExit) as waterfall:
        main(["traces", "--var-dir", str(tmp_path), "get", trace_id])
    assert waterfall.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"trace {trace_id}")
    assert lines[2].split("ms", 1)[1].startswith("    kintell: send"), "a child is indented under its parent"


def test_an_unknown_trace_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as got:
        main(["traces", "--var-dir", str(tmp_path), "get", "0" * 32])
    assert got.value.code == 1
    assert "no trace" in capsys.readouterr().out


def test_the_receiver_refuses_what_is_not_an_otlp_export(receiver: str) -> None:
    assert httpx.post(receiver + "/v1/traces", content=b"\xff\xfe not protobuf").status_code == 400
    assert httpx.post(receiver + "/v1/traces", content=b"").status_code == 400
    assert httpx.post(receiver + "/v1/logs", content=b"x").status_code == 404
    assert httpx.get(receiver + "/healthz").status_code == 200


def _request(name: str) -> bytes:
    span = trace_pb2.Span(
        trace_id=bytes(range(16)), span_id=bytes(range(8)), name=name, kind=trace_pb2.Span.SPAN_KIND_SERVER
    )
    scope = trace_pb2.ScopeSpans(spans=[span])
    resource = trace_pb2.ResourceSpans(scope_spans=[scope])
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


def test_the_receiver_takes_gzip_and_chunked_bodies(receiver: str, tmp_path: Path) -> None:
    zipped = gzip.compress(_request("zipped"))
    assert httpx.post(receiver + "/v1/traces", content=zipped, headers={"content-encoding": "gzip"}).is_success
    body = _request("chunked")
    assert httpx.post(receiver + "/v1/traces", content=iter([body[:5], body[5:]])).is_success
    stored = SpanStore(tmp_path / "telemetry").trace(bytes(range(16)).hex())
    assert [(s["name"], s["kind"], s["service"]) for s in stored] == [
        ("zipped", "SERVER", "unknown"),
        ("chunked", "SERVER", "unknown"),
    ]


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    store = SpanStore(tmp_path, max_bytes=10)
    record = {"trace_id": "ab", "span_id": "01", "parent_span_id": None, "start_unix_nano": 1, "end_unix_nano": 2}
    store.append([record])
    store.append([record])  # over max_bytes: the first file is rotated to .1 and still read
    with store.path.open("a") as out:
        out.write('{"trace_id": "ab", "span')
    assert len(store.trace("AB")) == 2
    assert traces.render_list([]).startswith("TRACE ID")
