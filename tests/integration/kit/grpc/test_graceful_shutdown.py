"""SIGTERM during an in-flight RPC: health turns NOT_SERVING first (a health watch is told so, then ends),
the process stops listening at once (in a rolling restart the kernel then gives the port's new
connections to the successor), the RPC completes, the process exits 0; and a call that reaches a
draining server is refused with the header that lets the edge retry it elsewhere."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.cli.spec import REPO_ROOT, free_port
from services.kit import testing
from services.kit.grpc.server import GrpcServer
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.support import JwksServer, LineReader

TENANT = testing.tenant("acme")


def _wait_until_refused(port: int, timeout: float = 30.0) -> None:
    """Returns once a connection to `port` on 127.0.0.1 is refused, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, f"port {port} still accepts connections"
        time.sleep(0.05)  # polling interval of a bounded wait


@pytest.fixture
def jwks_url() -> Iterator[str]:
    with JwksServer() as jwks:
        yield jwks.url


@pytest.fixture
def profile_process(tmp_path: Path, jwks_url: str) -> Iterator[tuple[subprocess.Popen[str], LineReader, int]]:
    port = free_port()
    env = {**os.environ, "TEEI_GRPC_PORT": str(port), "TEEI_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env["TEEI_SHUTDOWN_GRACE_SECONDS"] = "60"
    env["TEEI_JWKS_URL"] = jwks_url
    process = subprocess.Popen(
        [sys.executable, "-m", "services.profile"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    logs = LineReader(process.stdout)
    try:
        logs.wait_for("server.started")
        yield process, logs, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        logs.close()


def test_sigterm_drains_in_flight_rpc_after_health_turns_not_serving(
    profile_process: tuple[subprocess.Popen[str], LineReader, int], tmp_path: Path
) -> None:
    process, logs, port = profile_process
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    health = health_pb2_grpc.HealthStub(channel)
    profiles = profile_pb2_grpc.ProfileServiceStub(channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="teei.profile.v1.ProfileService"), timeout=60)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING

    # Hold the database's write lock so the RPC below stays in flight until the test lets it go.
    lock = sqlite3.connect(tmp_path / "profile.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="slow@example.org"))
    in_flight = profiles.CreateProfile.future(request, metadata=TENANT, timeout=60)
    logs.wait_for("rpc.started", rpc_method="/teei.profile.v1.ProfileService/CreateProfile")

    process.send_signal(signal.SIGTERM)
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert logs.wait_for("server.draining")["in_flight"] == 1
    # The port no longer listens in this process (a successor's socket gets its new connections) while
    # the call it took still runs.
    _wait_until_refused(port)
    with pytest.raises(StopIteration):
        next(watch)  # the watch ended after NOT_SERVING instead of holding the shutdown
    assert not in_flight.done()
    assert process.poll() is None

    lock.execute("ROLLBACK")
    lock.close()
    assert in_flight.result(timeout=30).profile.email == "slow@example.org"
    assert process.wait(timeout=30) == 0
    assert logs.wait_for("server.stopped")["drained"] is True
    channel.close()


async def test_a_call_reaching_a_draining_server_is_refused_with_the_retriable_header(
    profile_service: tuple[GrpcServer, grpc.aio.Channel],
) -> None:
    server, channel = profile_service
    profiles = profile_pb2_grpc.ProfileServiceStub(channel)
    server.tracker.start_draining()  # as stop() does, before the server has stopped listening
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id="x"), metadata=TENANT, timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # Refused before it ran, and says so: the edge may send it to another process (a rolling restart).
    trailers = refused.value.trailing_metadata()
    assert trailers is not None
    assert trailers.get("teei-draining") in ("1", b"1")
