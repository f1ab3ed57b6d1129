"""A real Envoy edge in front of one recording gRPC upstream built with the services' server options.

The upstream serves every RPC of the routed services: it answers each with an empty message (valid
for any response type) and records the method, the request bytes and the metadata it received.
It is a grpc.aio server with ``services.kit.grpc.server.server_options``, so metadata limits are the
services' own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.cli.edge import EdgeSettings, Upstream
from services.cli.spec import free_port
from services.kit.grpc.server import server_options
from tests.integration.test_edge_config import (
    BUF,
    REPO,
    _Edge,
    _Loop,
    _start_envoy,
    _stop_envoy,
    auth_header,
    await_keys_loaded,
)
from tests.support import JwksServer

MIB = 1024 * 1024
SERVICES = {
    "profile": "teei.profile.v1.ProfileService",
    "q2q": "teei.q2q.v1.Q2qService",
    "kintell": "teei.kintell.v1.KintellService",
    "gateway": "teei.gateway.v1.GatewayService",
}


@dataclass(frozen=True)
class Call:
    """One RPC as the upstream received it."""

    method: str
    request: bytes
    metadata: dict[str, str]


@dataclass
class Recorder(grpc.GenericRpcHandler):
    """Answers every RPC with an empty message and records it."""

    calls: list[Call] = field(default_factory=list)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        method = handler_call_details.method

        async def answer(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            metadata = {key: str(value) for key, value in context.invocation_metadata() or ()}
            self.calls.append(Call(method, request, metadata))
            return b""

        return grpc.unary_unary_rpc_method_handler(answer)

    def of(self, method: str) -> list[Call]:
        """The calls of `method` ("/pkg.Service/Method")."""
        return [call for call in self.calls if call.method == method]


@dataclass
class Edge:
    """The running edge and what reached the upstream behind it."""

    edge: _Edge
    upstream: Recorder

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A REST request through the edge, with a token allowed every RPC unless headers say otherwise."""
        headers = {**auth_header(role="super_admin"), **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.edge.url}{path}", headers=headers, timeout=10.0, **kwargs)


async def _start_upstream(recorder: Recorder) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=server_options(16 * MIB))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_generic_rpc_handlers((recorder,))
    port = server.add_insecure_port("127.0.0.1:0")
    for service in SERVICES.values():
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    return server, port


def edge_settings(descriptor: Path, upstream_port: int, jwks: JwksServer) -> EdgeSettings:
    """The edge's production defaults, routing every service in SERVICES to `upstream_port`."""
    return EdgeSettings(
        listen_port=free_port(),
        admin_port=free_port(),
        descriptor_path=descriptor,
        upstreams=tuple(Upstream(name, (service,), "127.0.0.1", upstream_port) for name, service in SERVICES.items()),
        health_interval_ms=200,
        jwt=jwks.settings(),
    )


@pytest.fixture(scope="package")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The descriptor set of the contracts, built by buf."""
    out = tmp_path_factory.mktemp("descriptor") / "d.binpb"
    env = {**os.environ, "PATH": f"{BUF.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["BUF_CACHE_DIR"] = str(REPO / ".cache" / "buf")
    subprocess.run([str(BUF), "build", "-o", str(out)], cwd=REPO, env=env, check=True, timeout=60)
    return out


@pytest.fixture(scope="package")
def edge(descriptor: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """One edge for the package's tests."""
    loop = _Loop()
    jwks = JwksServer()
    recorder = Recorder()
    server: grpc.aio.Server | None = None
    running: _Edge | None = None
    try:
        server, port = loop.run(_start_upstream(recorder))
        running = _start_envoy(edge_settings(descriptor, port, jwks), tmp_path_factory.mktemp("edge"))
        await_keys_loaded(running.url, "/v1/profiles/p-0", auth_header())
        yield Edge(edge=running, upstream=recorder)
    finally:
        if running is not None:
            _stop_envoy(running)
        if server is not None:
            loop.run(server.stop(None))
        loop.close()
        jwks.close()
