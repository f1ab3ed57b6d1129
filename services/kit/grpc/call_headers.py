"""The text metadata of the call being served, read from gRPC once per call and shared by the interceptors."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import grpc

# The served call's context and its text headers. Each call runs in a task of its own, so what one call
# sets here is never seen by another; the context's identity is checked all the same.
_HEADERS: ContextVar[tuple[object, Mapping[str, str]] | None] = ContextVar("teei_call_headers", default=None)


def headers(context: grpc.aio.ServicerContext[Any, Any]) -> Mapping[str, str]:
    """The call's text metadata (binary `-bin` values left out), read once per call. Do not modify it."""
    held = _HEADERS.get()
    if held is not None and held[0] is context:
        return held[1]
    read = {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}
    _HEADERS.set((context, read))
    return read
