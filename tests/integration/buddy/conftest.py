"""Buddy integration fixtures: the real buddy service served in-process on a temporary SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.buddy import bootstrap
from services.cli.webhooks import provision
from services.kit.config import ServiceConfig
from services.kit.testing import running
from teei.buddy.v1 import buddy_pb2_grpc
from tests.integration.buddy.signing import SECRETS


@pytest.fixture
async def buddy(service_config: ServiceConfig) -> AsyncIterator[buddy_pb2_grpc.BuddyServiceAsyncStub]:
    """A typed stub to the in-process buddy service; each test tenant holds its Buddy webhook secret."""
    for tenant, secret in SECRETS.items():
        provision(service_config.var_dir, tenant, "buddy", secret)
    async with running(bootstrap.build(service_config)) as (_, channel):
        yield buddy_pb2_grpc.BuddyServiceStub(channel)
