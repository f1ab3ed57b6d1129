"""The server span of every RPC (OpenTelemetry RPC conventions): it continues the caller's W3C
`traceparent` (the edge's span, or an internal client's), carries the request id, and ends with the
call's gRPC status. Platform RPCs (health checks, reflection) are not traced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import structlog
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit.grpc import call_headers
from services.kit.grpc.interceptors import ScopedInterceptor
from services.kit.telemetry.tracing import tracer

# The codes that mean the server failed (the RPC conventions' list); the others are the caller's.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def span_name(method: str) -> str:
    """'/teei.profile.v1.ProfileService/GetProfile' → 'teei.profile.v1.ProfileService/GetProfile'."""
    return method.lstrip("/")


def rpc_attributes(method: str) -> dict[str, str]:
    """rpc.system, rpc.service and rpc.method of a full method name."""
    service, _, name = span_name(method).partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class ServerSpanInterceptor(ScopedInterceptor):
    """Runs each call inside a SERVER span; inner interceptors and the handler see it as current."""

    skips_platform_methods = True

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        parent = propagate.extract(call_headers.headers(context))
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        with tracer().start_as_current_span(
            span_name(details.method),
            context=parent,
            kind=SpanKind.SERVER,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span.set_attributes(rpc_attributes(details.method))
            if request_id:
                span.set_attribute("teei.request_id", str(request_id))
            try:
                yield
            finally:
                code = context.code()
                status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK
                span.set_attribute("rpc.grpc.status_code", status.value[0])
                if status in SERVER_FAULTS:
                    span.set_status(Status(StatusCode.ERROR, status.name))
