"""Per-RPC metrics of a server: every call's duration by service, method and gRPC status code, recorded in
`rpc_server_duration_seconds` (OpenTelemetry's `rpc.server.duration`); its count is the request rate and the
counts with a non-zero status the error rate. Health and reflection calls are not recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from services.kit.grpc.interceptors import ScopedInterceptor
from services.kit.security import access
from services.kit.telemetry import errors_report, metrics


class RpcMetricsInterceptor(ScopedInterceptor):
    """Times each call and records it with the status it ended with; reports calls that ended UNKNOWN or
    INTERNAL without an exception already reported (errors_report)."""

    skips_platform_methods = True

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        service, method = access.split_method(details.method)
        started = time.perf_counter()
        cancelled = False
        with errors_report.call_scope(details.method):
            try:
                yield
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                code = grpc.StatusCode.CANCELLED if cancelled else status_code(context)
                metrics.RPC_SERVER_DURATION.labels(service, method, str(code.value[0])).observe(
                    time.perf_counter() - started
                )
                errors_report.report_status(code, details.method)


def status_code(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    """The call's status so far: OK unless the behaviour set or aborted with another."""
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK
