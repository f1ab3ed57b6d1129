"""Client channel factory: every internal call goes through a channel built here."""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc

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


def insecure_channel(target: str, *, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> grpc.aio.Channel:
    """A grpc.aio channel to `target` ('host:port') with the platform's defaults."""
    options = [
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ]
    return grpc.aio.insecure_channel(target, options=options, interceptors=list(interceptors) or None)
