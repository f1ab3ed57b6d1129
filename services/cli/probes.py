"""Health probes the launcher waits on: gRPC health, HTTP status."""

from __future__ import annotations

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc


def grpc_serving(
    target: str, service: str, *, timeout: float = 1.0, credentials: grpc.ChannelCredentials | None = None
) -> bool:
    """True when grpc.health.v1 Check of `service` at `target` answers SERVING (over mTLS with `credentials`)."""
    channel = grpc.insecure_channel(target) if credentials is None else grpc.secure_channel(target, credentials)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str, *, timeout: float = 1.0) -> bool:
    """True when GET `url` answers 200."""
    try:
        return httpx.get(url, timeout=timeout, follow_redirects=True).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False
