"""Client channel factory: every internal call goes through a channel built here."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from services.kit.security import mtls, servicetokens

# Transparent retries of UNAVAILABLE for calls the server never started (safe for any method);
# idempotent-method retries with back-off are declared per call site by the resilience work.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "waitForReady": False,
                "timeout": "30s",
            }
        ]
    }
)


_OPTIONS = [
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    # After a long outage gRPC's reconnect back-off grows to 120 s by default, which would keep a
    # recovered callee unreachable long after the breaker is ready to close; cap it at 5 s.
    ("grpc.max_reconnect_backoff_ms", 5_000),
]


def insecure_channel(target: str, *, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> grpc.aio.Channel:
    """A grpc.aio channel to `target` ('host:port') with the platform's defaults."""
    chain = [*_client_spans(), *interceptors]
    return grpc.aio.insecure_channel(target, options=_OPTIONS, interceptors=chain)


def mesh_channel(
    target: str,
    *,
    callee: str,
    caller: str,
    cert_dir: Path,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """An internal call path from service `caller` to service `callee` at `target`: mTLS with the
    caller's mesh certificate, a service token for the callee on every call, and the end user's
    bearer token of the RPC being served (if any) passed on."""
    signer = servicetokens.ServiceTokenSigner(cert_dir, caller)
    chain = [*_client_spans(), *interceptors, servicetokens.client_interceptor(signer, callee)]
    credentials = mtls.channel_credentials(cert_dir, caller)
    return grpc.aio.secure_channel(target, credentials, options=_OPTIONS, interceptors=chain)


def _client_spans() -> list[grpc.aio.ClientInterceptor]:
    """OpenTelemetry's client interceptors, outermost: a CLIENT span per call whose W3C `traceparent`
    goes out in the call's metadata, so the callee's server span is its child."""
    # The instrumentation package ships no annotations; its documented return type is stated here.
    make = cast(Callable[[], list[grpc.aio.ClientInterceptor]], aio_client_interceptors)
    return make()
