"""Authentication and authorisation inside a service called directly (no edge in front).

The profile service runs in-process and trusts the test issuer's JWKS. Every token that does not
prove its caller is UNAUTHENTICATED with the failed check as ErrorInfo reason; a role without the
RPC's permission is PERMISSION_DENIED; the tenant is the token's `company` claim and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from services.kit.audit.tables import records
from services.kit.grpc.server import GrpcServer
from services.kit.testing import ISSUER, Issuer, bearer, tenant
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.support import error_reason

OTHER_ISSUER = Issuer()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unsigned(claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": ISSUER.kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _hs256_with_public_key() -> str:
    """The classic algorithm-confusion attack: HMAC keyed with the issuer's public key."""
    public_pem = ISSUER.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": ISSUER.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(ISSUER.claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bad_signature() -> str:
    head, body, signature = ISSUER.token().split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 0xFF
    return f"{head}.{body}.{_b64(bytes(flipped))}"


def _with(**changes: Any) -> str:
    return ISSUER.sign({**ISSUER.claims(), **changes})


BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    "alg-none": (lambda: _unsigned(ISSUER.claims()), "TOKEN_ALGORITHM_NOT_ALLOWED"),
    "hs256-with-public-key": (_hs256_with_public_key, "TOKEN_ALGORITHM_NOT_ALLOWED"),
    "unknown-kid": (lambda: OTHER_ISSUER.sign(ISSUER.claims()), "TOKEN_KEY_UNKNOWN"),
    "injected-kid-path": (lambda: ISSUER.sign(ISSUER.claims(), kid="../../../../dev/null"), "TOKEN_KID_INVALID"),
    "injected-kid-sql": (lambda: ISSUER.sign(ISSUER.claims(), kid="x' OR '1'='1"), "TOKEN_KID_INVALID"),
    "jku-header": (lambda: ISSUER.sign(ISSUER.claims(), jku="http://evil.test/jwks"), "TOKEN_HEADER_NOT_ALLOWED"),
    "expired": (lambda: _with(iat=1_000, nbf=1_000, exp=2_000), "TOKEN_EXPIRED"),
    "not-yet-valid": (lambda: _with(nbf=4_000_000_000), "TOKEN_NOT_YET_VALID"),
    "wrong-issuer": (lambda: _with(iss="https://issuer.evil.test"), "TOKEN_ISSUER_INVALID"),
    "wrong-audience": (lambda: _with(aud="another-api"), "TOKEN_AUDIENCE_INVALID"),
    "bad-signature": (_bad_signature, "TOKEN_SIGNATURE_INVALID"),
    "unknown-role": (lambda: _with(role="root"), "TOKEN_CLAIM_INVALID"),
    "garbage": (lambda: "not.a.jwt", "TOKEN_MALFORMED"),
}


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def _create(profiles: profile_pb2_grpc.ProfileServiceAsyncStub, email: str, company: str = "acme") -> str:
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email))
    return (await profiles.CreateProfile(request, metadata=tenant(company))).profile.profile_id


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
async def test_a_token_that_proves_nothing_is_unauthenticated(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, name: str
) -> None:
    make, reason = BAD_TOKENS[name]
    request = profile_pb2.ListProfilesRequest()
    error = await _error(profiles.ListProfiles(request, metadata=bearer(make())))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == reason


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Basic YWNtZTphY21l"),),
        (("authorization", "Bearer"),),
        (("x-tenant-id", "acme"),),
    ],
)
async def test_a_call_without_a_bearer_token_is_unauthenticated(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, metadata: tuple[tuple[str, str], ...]
) -> None:
    error = await _error(profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=metadata))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("company_admin", True), ("company_user", False), ("participant", False), ("volunteer", False)],
)
async def test_the_rpcs_permission_decides_by_role(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, role: str, allowed: bool
) -> None:
    """ListProfiles needs PERMISSION_USERS_READ, which DOMAIN.md gives company admins only."""
    call = profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=tenant("acme", role=role))
    if allowed:
        await call
        return
    error = await _error(call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "PERMISSION_USERS_READ" in (error.details() or "")


async def test_a_refused_role_leaves_one_denied_record_in_the_services_own_audit_log(
    profile_service: tuple[GrpcServer, grpc.aio.Channel],
) -> None:
    """Refused twice by role: one record naming the token's subject, its company and the RPC; the repeat is
    counted in that kind's window, not written again."""
    profiles = profile_pb2_grpc.ProfileServiceStub(profile_service[1])
    caller = tenant("acme", role="participant", subject="pat-1")
    for _ in range(2):
        error = await _error(profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=caller))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    engine = profile_service[0].service.engine
    assert engine is not None
    with engine.connect() as connection:
        denied = connection.execute(sa.select(records).where(records.c.outcome == "denied")).mappings().all()
    assert [(r["actor"], r["actor_kind"], r["tenant"], r["action"], r["resource"]) for r in denied] == [
        ("pat-1", "token", "acme", "access.denied", "rpc:/teei.profile.v1.ProfileService/ListProfiles")
    ]
    assert json.loads(denied[0]["diff"])["after"]["detail"] == {"permission": "PERMISSION_USERS_READ"}


async def test_a_service_identity_holds_no_role_permission(profiles: profile_pb2_grpc.ProfileServiceAsyncStub) -> None:
    error = await _error(
        profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=tenant("acme", role="service"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_tenant_b_cannot_read_list_or_change_tenant_as_data(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    ada = await _create(profiles, "ada@acme.example")
    globex = tenant("globex")
    reads = [
        profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada), metadata=globex),
        profiles.LinkExternalId(
            profile_pb2.LinkExternalIdRequest(
                profile_id=ada,
                external_id=profile_pb2.ExternalId(provider=types_pb2.IDENTITY_PROVIDER_KINTELL, external_id="k-1"),
            ),
            metadata=globex,
        ),
    ]
    for call in reads:
        assert (await _error(call)).code() == grpc.StatusCode.NOT_FOUND
    listed = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=globex)
    assert not listed.profiles
    # Acme's data is unchanged and still its own.
    mine = await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada), metadata=tenant("acme"))
    assert mine.profile.email == "ada@acme.example"
    assert not mine.profile.external_ids


async def test_a_forged_tenant_header_does_not_change_the_tokens_tenant(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    ada = await _create(profiles, "ada@acme.example")
    forged = (*tenant("globex"), ("x-tenant-id", "acme"), ("x-jwt-payload", _b64(b'{"company":"acme"}')))
    error = await _error(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=ada), metadata=forged))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_a_platform_operator_without_a_company_names_no_tenant(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    operator = bearer(ISSUER.token(role="super_admin", tenant=None))
    error = await _error(profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=operator))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
