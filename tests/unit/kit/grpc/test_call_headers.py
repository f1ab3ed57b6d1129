"""A served call's text metadata is read once and shared by everything serving that call, never another's."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from services.kit.grpc import call_headers

METHOD = "/teei.test.Echo/Headers"


async def _describe(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    first = call_headers.headers(context)
    await asyncio.sleep(0)  # let the other calls in flight run in between
    again = call_headers.headers(context)
    shared = "shared" if again is first else "copied"
    return f"{first.get('x-request-id')}|{'probe-bin' in first}|{shared}".encode()


async def test_each_call_reads_its_own_headers_once_and_binary_values_are_left_out() -> None:
    server = grpc.aio.server()
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_describe)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("teei.test.Echo", {"Headers": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
            answers = await asyncio.gather(
                *(call(b"", metadata=(("x-request-id", f"req-{n}"), ("probe-bin", b"\x00"))) for n in range(20))
            )
    finally:
        await server.stop(None)
    assert answers == [f"req-{n}|False|shared".encode() for n in range(20)]
