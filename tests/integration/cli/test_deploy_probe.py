"""The pods' exec probe against a real mTLS gRPC server: SERVING passes, NOT_SERVING and a missing
certificate fail (the exit status kubelet reads)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.cli import certs
from services.cli.deploy import probe
from services.cli.spec import free_port
from services.kit.security import mtls

SERVICE = "teei.profile.v1.ProfileService"


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A mesh CA and the profile service's certificate."""
    folder = tmp_path / "mtls"
    certs.init_ca(folder)
    certs.issue(folder, "profile")
    return folder


@pytest.fixture
def server(cert_dir: Path) -> Iterator[tuple[int, health.HealthServicer]]:
    """grpc.health.v1 on loopback behind mTLS (client certificate required), as every service serves it."""
    checks = health.HealthServicer()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(checks, grpc_server)
    port = free_port()
    grpc_server.add_secure_port(f"127.0.0.1:{port}", mtls.server_credentials(cert_dir, "profile"))
    grpc_server.start()
    try:
        yield port, checks
    finally:
        grpc_server.stop(0)


def run_probe(port: int, cert_dir: Path, identity: str = "profile") -> int:
    arguments = ["--port", str(port), "--service", SERVICE, "--identity", identity, "--mtls-dir", str(cert_dir)]
    return probe.main([*arguments, "--timeout", "5"])


def test_probe_passes_when_the_service_is_serving(server: tuple[int, health.HealthServicer], cert_dir: Path) -> None:
    port, checks = server
    checks.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    assert run_probe(port, cert_dir) == 0


def test_probe_fails_while_the_service_drains(server: tuple[int, health.HealthServicer], cert_dir: Path) -> None:
    """NOT_SERVING (the graceful shutdown) takes the pod out of its Service."""
    port, checks = server
    checks.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert run_probe(port, cert_dir) == 1


def test_probe_fails_without_its_certificate(
    server: tuple[int, health.HealthServicer], cert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pod whose Secret is not mounted yet fails its probe, naming the certificate it could not read."""
    port, checks = server
    checks.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    assert run_probe(port, cert_dir, identity="kintell") == 1
    assert "kintell" in capsys.readouterr().err
