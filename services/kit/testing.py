"""Test support shipped with the kit: run a built Service in-process on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import grpc

from services.kit.channels import insecure_channel
from services.kit.server import GrpcServer, Service


@asynccontextmanager
async def running(service: Service) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """Serves `service` on 127.0.0.1 (a free port) and yields the server and a channel to it."""
    service = replace(service, config=replace(service.config, grpc_host="127.0.0.1", grpc_port=0))
    server = GrpcServer(service)
    port = await server.start()
    channel = insecure_channel(f"127.0.0.1:{port}")
    try:
        yield server, channel
    finally:
        await channel.close()
        await server.stop()


def tenant(tenant_id: str) -> tuple[tuple[str, str], ...]:
    """Call metadata naming the caller's tenant."""
    return (("x-tenant-id", tenant_id),)
