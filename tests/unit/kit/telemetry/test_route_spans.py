"""Every public route (each RPC the edge transcodes, from envoy/descriptors.binpb) gets a server span
from the services' real interceptor chain, with the RPC attributes and the caller's trace continued."""

from __future__ import annotations

import importlib
from pathlib import Path

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.cli.spec import REPO_ROOT
from services.kit.config import ServiceConfig
from services.kit.grpc import server
from services.kit.telemetry.tracing import tracer
from services.kit.testing import running

DESCRIPTORS = REPO_ROOT / "envoy" / "descriptors.binpb"


def _routes() -> dict[tuple[str, str], list[str]]:
    """(proto file, service) → the names of its methods with an HTTP binding."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())
    routes: dict[tuple[str, str], list[str]] = {}
    for file in files.file:
        if not file.package.startswith("teei."):
            continue
        for service in file.service:
            bound = [m.name for m in service.method if m.options.HasExtension(annotations_pb2.http)]
            if bound:
                routes[(file.name, f"{file.package}.{service.name}")] = bound
    return routes


ROUTES = _routes()


def test_the_edge_transcodes_routes_of_every_service() -> None:
    assert len(ROUTES) >= 7
    assert sum(len(methods) for methods in ROUTES.values()) >= 30


@pytest.mark.parametrize(("proto", "service"), sorted(ROUTES))
async def test_every_route_of_the_service_produces_a_server_span(
    proto: str, service: str, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    module = proto.removesuffix(".proto").replace("/", ".")
    pb2, pb2_grpc = importlib.import_module(module + "_pb2"), importlib.import_module(module + "_pb2_grpc")
    short = service.rsplit(".", 1)[1]
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    # The contract served by the real chain; without a token every call is refused, still inside a span.
    built = server.contract_only("routes", config, pb2, pb2_grpc, short)
    async with running(built) as (_, channel):
        with tracer().start_as_current_span("caller") as caller:
            for method in ROUTES[(proto, service)]:
                call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{service}/{method}")
                with pytest.raises(grpc.aio.AioRpcError):
                    await call(b"", timeout=5)
    server_spans = {s.name: s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER}
    for method in ROUTES[(proto, service)]:
        span = server_spans[f"{service}/{method}"]
        assert span.attributes is not None
        assert (span.attributes["rpc.service"], span.attributes["rpc.method"]) == (service, method)
        # Public RPCs reach the unbuilt contract (UNIMPLEMENTED); the others are refused without a token.
        refused = {grpc.StatusCode.UNAUTHENTICATED.value[0], grpc.StatusCode.UNIMPLEMENTED.value[0]}
        assert span.attributes["rpc.grpc.status_code"] in refused
        assert span.context.trace_id == caller.get_span_context().trace_id
