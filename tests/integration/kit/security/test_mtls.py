"""Mesh mTLS against real grpc.aio servers on loopback: who gets in, who is refused, and hot rotation."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from services.cli import certs
from services.kit import testing
from services.kit.audit.denials import DenialLog
from services.kit.audit.tables import records
from services.kit.audit.trail import AuditLog
from services.kit.grpc import chain
from services.kit.grpc.interceptors import InFlightTracker
from services.kit.persistence import db
from services.kit.security import certificates, mtls, trust_policy
from tests.unit.kit.audit.support import migrated

SERVICE = "profile"
Credentials = Callable[[Path, str], grpc.ServerCredentials]


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    """A mesh CA with certificates for the profile service, the edge, safety and an unlisted workload."""
    folder = tmp_path / "mesh"
    certs.init_ca(folder)
    for name in (SERVICE, "edge", "safety", "reporting"):
        certs.issue(folder, name)
    return folder


@pytest.fixture
def foreign_dir(tmp_path: Path) -> Path:
    """Another CA that issued a certificate carrying the edge's identity."""
    folder = tmp_path / "foreign"
    certs.init_ca(folder)
    certs.issue(folder, "edge")
    return folder


@asynccontextmanager
async def serving(
    cert_dir: Path, credentials: Credentials = mtls.reloading_server_credentials, denials: DenialLog | None = None
) -> AsyncIterator[int]:
    """The profile service's platform RPCs behind the kit chain and the trust policy, on mTLS."""
    interceptors = chain.build(
        service=SERVICE,
        tracker=InFlightTracker(),
        validator=testing.ISSUER.validator(),
        policy=trust_policy.load_policy(),
        denials=denials,
    )
    server = grpc.aio.server(interceptors=interceptors)
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    reflection.enable_server_reflection((health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_secure_port("127.0.0.1:0", credentials(cert_dir, SERVICE))
    await server.start()
    await checks.set("", health_pb2.HealthCheckResponse.SERVING)
    try:
        yield port
    finally:
        await server.stop(0)


async def list_services(port: int, credentials: grpc.ChannelCredentials) -> list[str]:
    """A real (streaming) RPC that the trust policy guards: server reflection's service listing."""
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=10)]
    return [s.name for s in responses[0].list_services_response.service]


async def check_health(port: int, credentials: grpc.ChannelCredentials) -> int:
    """The serving status a caller with `credentials` reads from grpc.health.v1."""
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(reply.status)


def served_serial(port: int, cert_dir: Path, client: str) -> int:
    """Serial number of the certificate the server presents to a fresh TLS handshake as `client`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=certificates.ca_cert_path(cert_dir))
    context.load_cert_chain(certificates.cert_path(cert_dir, client), certificates.key_path(cert_dir, client))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def serial_on_disk(cert_dir: Path, name: str) -> int:
    return x509.load_pem_x509_certificate(certificates.cert_path(cert_dir, name).read_bytes()).serial_number


@pytest.mark.parametrize("credentials", [mtls.server_credentials, mtls.reloading_server_credentials])
async def test_allowed_identity_with_a_mesh_certificate_is_served(cert_dir: Path, credentials: Credentials) -> None:
    async with serving(cert_dir, credentials) as port:
        names = await list_services(port, mtls.channel_credentials(cert_dir, "edge"))
    assert health.SERVICE_NAME in names


async def test_caller_without_a_client_certificate_fails_the_handshake(cert_dir: Path) -> None:
    anonymous = grpc.ssl_channel_credentials(root_certificates=certificates.ca_cert_path(cert_dir).read_bytes())
    async with serving(cert_dir) as port:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await check_health(port, anonymous)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_certificate_from_another_ca_fails_the_handshake(cert_dir: Path, foreign_dir: Path) -> None:
    # Trusts the mesh CA (so the server side is fine) but presents the foreign CA's "edge" certificate.
    impostor = grpc.ssl_channel_credentials(
        root_certificates=certificates.ca_cert_path(cert_dir).read_bytes(),
        private_key=certificates.key_path(foreign_dir, "edge").read_bytes(),
        certificate_chain=certificates.cert_path(foreign_dir, "edge").read_bytes(),
    )
    async with serving(cert_dir) as port:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await list_services(port, impostor)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_refuses_a_server_outside_its_trusted_ca(cert_dir: Path, foreign_dir: Path) -> None:
    async with serving(cert_dir) as port:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await check_health(port, mtls.channel_credentials(foreign_dir, "edge"))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("caller", ["safety", "reporting"], ids=["mesh-service-not-granted", "unlisted-workload"])
async def test_identity_not_on_the_allow_list_is_denied(cert_dir: Path, caller: str) -> None:
    async with serving(cert_dir) as port:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await list_services(port, mtls.channel_credentials(cert_dir, caller))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"spiffe://teei.local/service/{caller} may not call profile" in (denied.value.details() or "")


async def test_a_refused_mesh_identity_is_audited_under_its_certificates_spiffe_id(
    cert_dir: Path, tmp_path: Path
) -> None:
    engine = migrated(db.sqlite_url(tmp_path / "audit.db"))
    try:
        async with serving(cert_dir, denials=DenialLog(AuditLog(db.UnitOfWork(engine)))) as port:
            with pytest.raises(grpc.aio.AioRpcError):
                await list_services(port, mtls.channel_credentials(cert_dir, "reporting"))
        with engine.connect() as connection:
            denied = connection.execute(sa.select(records)).mappings().all()
    finally:
        engine.dispose()
    assert [(r["actor"], r["actor_kind"], r["tenant"], r["resource"], r["outcome"]) for r in denied] == [
        (
            "spiffe://teei.local/service/reporting",
            "service",
            None,
            "rpc:/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "denied",
        )
    ]


@pytest.mark.parametrize("caller", ["safety", "reporting", "edge"])
async def test_health_checks_are_open_to_every_mesh_identity(cert_dir: Path, caller: str) -> None:
    async with serving(cert_dir) as port:
        status = await check_health(port, mtls.channel_credentials(cert_dir, caller))
    assert status == health_pb2.HealthCheckResponse.SERVING


async def test_rotated_certificate_is_served_without_a_restart(cert_dir: Path) -> None:
    async with serving(cert_dir) as port:
        before = await asyncio.to_thread(served_serial, port, cert_dir, "edge")
        assert before == serial_on_disk(cert_dir, SERVICE)
        rotated = certs.rotate(cert_dir, SERVICE)
        after = await asyncio.to_thread(served_serial, port, cert_dir, "edge")
        names = await list_services(port, mtls.channel_credentials(cert_dir, "edge"))
    assert after == rotated.serial_number != before
    assert health.SERVICE_NAME in names


async def test_a_half_written_rotation_keeps_the_previous_pair_in_service(cert_dir: Path) -> None:
    async with serving(cert_dir) as port:
        before = await asyncio.to_thread(served_serial, port, cert_dir, "edge")
        # A key that does not belong to the certificate on disk, as between the two renames.
        certificates.key_path(cert_dir, SERVICE).write_bytes(certificates.key_path(cert_dir, "safety").read_bytes())
        during = await asyncio.to_thread(served_serial, port, cert_dir, "edge")
        rotated = certs.rotate(cert_dir, SERVICE)
        after = await asyncio.to_thread(served_serial, port, cert_dir, "edge")
    assert during == before
    assert after == rotated.serial_number


async def test_rotated_client_certificate_is_accepted_by_a_running_server(cert_dir: Path) -> None:
    async with serving(cert_dir) as port:
        certs.rotate(cert_dir, "edge")
        names = await list_services(port, mtls.channel_credentials(cert_dir, "edge"))
    assert health.SERVICE_NAME in names
