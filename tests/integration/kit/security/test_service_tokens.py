"""Internal calls: mTLS plus a short-lived service token bound to the caller's certificate.

The real profile service runs on mTLS with the mesh trust policy (the gateway may call it, safety
may not). Callers are built with `channels.mesh_channel` or, for the attacks, by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from services.cli import certs
from services.kit.config import ServiceConfig
from services.kit.grpc.channels import mesh_channel
from services.kit.grpc.server import GrpcServer
from services.kit.security import certificates, mtls, servicetokens, tenancy
from services.kit.security.auth import Principal
from services.kit.testing import ISSUER, tenant
from services.profile import bootstrap as profile_bootstrap
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.support import error_reason

LIST = profile_pb2.ListProfilesRequest()


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mtls")
    certs.init_ca(folder)
    for name in ("profile", "gateway", "safety", "kintell", "edge"):
        certs.issue(folder, name)
    return folder


@pytest.fixture
async def profile_port(cert_dir: Path, tmp_path: Path) -> AsyncIterator[int]:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path, shutdown_grace_seconds=2.0, mtls_dir=cert_dir)
    service = replace(profile_bootstrap.build(config), jwks=ISSUER.jwks)
    server = GrpcServer(service)
    port = await server.start()
    try:
        yield port
    finally:
        await server.stop()


def _stub(channel: grpc.aio.Channel) -> profile_pb2_grpc.ProfileServiceAsyncStub:
    return profile_pb2_grpc.ProfileServiceStub(channel)


def _plain(cert_dir: Path, name: str, port: int) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", mtls.channel_credentials(cert_dir, name))


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_an_allowed_service_with_a_token_for_the_callee_is_served(cert_dir: Path, profile_port: int) -> None:
    target = f"127.0.0.1:{profile_port}"
    async with mesh_channel(target, callee="profile", caller="gateway", cert_dir=cert_dir) as channel:
        reply = await _stub(channel).ListProfiles(LIST, metadata=tenant("acme"))
    assert list(reply.profiles) == []


async def test_the_end_users_token_is_passed_on_by_internal_calls(cert_dir: Path, profile_port: int) -> None:
    target = f"127.0.0.1:{profile_port}"
    user = ISSUER.token(tenant="acme")
    async with mesh_channel(target, callee="profile", caller="gateway", cert_dir=cert_dir) as channel:
        without = await _error(_stub(channel).ListProfiles(LIST))
        assert without.code() == grpc.StatusCode.UNAUTHENTICATED
        principal = Principal(subject="user-1", tenant="acme", role="company_admin")
        with tenancy.bound_principal(principal, user):
            await _stub(channel).ListProfiles(LIST)


async def test_a_service_without_a_service_token_is_refused(cert_dir: Path, profile_port: int) -> None:
    async with _plain(cert_dir, "gateway", profile_port) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=tenant("acme")))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == "SERVICE_TOKEN_MISSING"


@pytest.mark.parametrize(
    ("signer", "audience", "reason"),
    [
        ("gateway", "kintell", "SERVICE_TOKEN_AUDIENCE_INVALID"),  # minted for another callee
        ("safety", "profile", "SERVICE_TOKEN_SIGNATURE_INVALID"),  # signed by another service's key
    ],
)
async def test_a_token_not_made_by_this_caller_for_this_callee_is_refused(
    cert_dir: Path, profile_port: int, signer: str, audience: str, reason: str
) -> None:
    token = servicetokens.ServiceTokenSigner(cert_dir, signer).token_for(audience)
    metadata = (*tenant("acme"), (servicetokens.HEADER, token))
    async with _plain(cert_dir, "gateway", profile_port) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=metadata))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == reason


async def test_an_expired_service_token_is_refused(cert_dir: Path, profile_port: int) -> None:
    stale = servicetokens.ServiceTokenSigner(cert_dir, "gateway", clock=lambda: 1_000_000.0).token_for("profile")
    metadata = (*tenant("acme"), (servicetokens.HEADER, stale))
    async with _plain(cert_dir, "gateway", profile_port) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=metadata))
    assert error_reason(error) == "SERVICE_TOKEN_EXPIRED"


async def test_a_service_not_on_the_allow_list_is_refused_even_with_a_valid_token(
    cert_dir: Path, profile_port: int
) -> None:
    target = f"127.0.0.1:{profile_port}"
    async with mesh_channel(target, callee="profile", caller="safety", cert_dir=cert_dir) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=tenant("acme")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_caller_without_a_client_certificate_cannot_connect(cert_dir: Path, profile_port: int) -> None:
    ca = certificates.ca_cert_path(cert_dir).read_bytes()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    async with grpc.aio.secure_channel(f"127.0.0.1:{profile_port}", credentials) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=tenant("acme"), timeout=10))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_edge_carries_user_tokens_without_a_service_token(cert_dir: Path, profile_port: int) -> None:
    async with _plain(cert_dir, "edge", profile_port) as channel:
        reply = await _stub(channel).ListProfiles(LIST, metadata=tenant("acme"))
    assert list(reply.profiles) == []


async def test_a_service_may_not_act_for_a_tenant_without_a_grant(cert_dir: Path, profile_port: int) -> None:
    """The gateway may call profile, but only with an end user's token: the policy grants it no RPC to
    call on its own, so a service token acting for a company is refused."""
    target = f"127.0.0.1:{profile_port}"
    async with mesh_channel(target, callee="profile", caller="gateway", cert_dir=cert_dir) as channel:
        with servicetokens.acting_for("acme"):
            error = await _error(_stub(channel).ListProfiles(LIST))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_tenant_claim_needs_a_verified_service_token(cert_dir: Path, profile_port: int) -> None:
    """A token whose tenant was not signed by the caller's key proves nothing."""
    forged = servicetokens.ServiceTokenSigner(cert_dir, "safety").token_for("profile", tenant="acme")
    async with _plain(cert_dir, "gateway", profile_port) as channel:
        error = await _error(_stub(channel).ListProfiles(LIST, metadata=((servicetokens.HEADER, forged),)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("tenant", ["../acme", " ", "*", "%", "acme ", "Acme", "acme\n"])
def test_a_malformed_tenant_is_never_signed(cert_dir: Path, tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        servicetokens.ServiceTokenSigner(cert_dir, "gateway").token_for("profile", tenant=tenant)
