"""Buddy integration fixtures: the real buddy service served in-process on a temporary SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.buddy import bootstrap
from services.kit.config import ServiceConfig
from services.kit.testing import running
from teei.buddy.v1 import buddy_pb2_grpc


@pytest.fixture
async def buddy(service_config: ServiceConfig) -> AsyncIterator[buddy_pb2_grpc.BuddyServiceAsyncStub]:
    """A typed stub to the in-process buddy service."""
    async with running(bootstrap.build(service_config)) as (_, channel):
        yield buddy_pb2_grpc.BuddyServiceStub(channel)
