"""Shared fixtures: an in-process profile service on a temporary SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from services.kit.config import ServiceConfig
from services.kit.server import GrpcServer
from services.kit.testing import running
from services.profile import bootstrap as profile_bootstrap
from teei.profile.v1 import profile_pb2_grpc


@pytest.fixture
def service_config(tmp_path: Path) -> ServiceConfig:
    """Config of a service whose data lives in the test's temporary folder."""
    return ServiceConfig(grpc_port=0, var_dir=tmp_path / "var", shutdown_grace_seconds=5.0)


@pytest.fixture
async def profile_service(service_config: ServiceConfig) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """The real profile service, served in-process."""
    async with running(profile_bootstrap.build(service_config)) as served:
        yield served


@pytest.fixture
def profiles(profile_service: tuple[GrpcServer, grpc.aio.Channel]) -> profile_pb2_grpc.ProfileServiceAsyncStub:
    """A typed stub to the in-process profile service."""
    return profile_pb2_grpc.ProfileServiceStub(profile_service[1])
