"""A small real grpc.aio server for the worker-group tests: gRPC health on TEEI_GRPC_PORT (bound with grpc's
default SO_REUSEPORT) and on TEEI_GRPC_WORKER_PORT when given, its process id in the `pid` trailing metadata
of every health check, TEEI_READY_FILE written once it serves, and a graceful stop on SIGTERM (exit 0). With
TEEI_METRICS_PORT: a Prometheus counter of the checks it answered there (served by __main__.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import grpc
import prometheus_client
from grpc_health.v1 import health_pb2, health_pb2_grpc

CHECKS = prometheus_client.Counter("worker_checks", "Health checks answered by this worker.")


class Health(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    async def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> health_pb2.HealthCheckResponse:
        CHECKS.inc()
        context.set_trailing_metadata((("pid", str(os.getpid())),))
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def main() -> int:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    server.add_insecure_port(f"127.0.0.1:{os.environ['TEEI_GRPC_PORT']}")
    if os.environ.get("TEEI_GRPC_WORKER_PORT"):
        server.add_insecure_port(f"127.0.0.1:{os.environ['TEEI_GRPC_WORKER_PORT']}")
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    ready = os.environ.get("TEEI_READY_FILE")
    if ready:
        await asyncio.to_thread(Path(ready).write_text, str(os.getpid()))
    await stopping.wait()
    await server.stop(5.0)
    return 0
