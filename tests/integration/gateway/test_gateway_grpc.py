"""The gateway over real gRPC: JWKS with Cache-Control metadata, the token endpoint and its errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import pytest
from google.api import httpbody_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.gateway import bootstrap, handlers
from services.gateway.domain.commands import RegisterClient
from services.kit.config import ServiceConfig
from services.kit.persistence import db
from services.kit.security import jose
from services.kit.security.auth import CachedJwks, TokenValidator
from services.kit.testing import running, tenant
from teei.common.v1 import types_pb2
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

KEK = base64.b64encode(b"i" * 32).decode()
ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": KEK, "TEEI_AUTH_ISSUER": "https://gateway.test", "TEEI_AUTH_AUDIENCE": "teei-api"}
FORM = "application/x-www-form-urlencoded"
Stub: TypeAlias = "gateway_pb2_grpc.GatewayServiceAsyncStub"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Stub, dict[str, str]]]:
    """The gateway served in-process, with one client in acme and one in globex; yields the stub and secrets."""
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    secrets: dict[str, str] = {}
    gateway = bootstrap.open_gateway(db.sqlite_url(tmp_path / "gateway.db"), tmp_path, environ=ENVIRON)
    for client_id, company in (("acme-sync", "acme"), ("globex-sync", "globex")):
        command = RegisterClient(client_id=client_id, company_id=company, role="service", scopes=("profiles:read",))
        secrets[client_id] = handlers.register_client(command, uow=gateway.uow)[1]
    gateway.engine.dispose()
    async with running(bootstrap.build(config, environ=ENVIRON)) as (_, channel):
        yield gateway_pb2_grpc.GatewayServiceStub(channel), secrets


def _form(**values: str) -> gateway_pb2.IssueTokenRequest:
    data = "&".join(f"{name}={value}" for name, value in values.items()).encode()
    return gateway_pb2.IssueTokenRequest(body=httpbody_pb2.HttpBody(content_type=FORM, data=data))


async def _jwks(stub: Stub) -> dict[str, Any]:
    response = await stub.GetJwks(gateway_pb2.GetJwksRequest())
    return json_format.MessageToDict(response, preserving_proto_field_name=True)


async def _validator(stub: Stub) -> TokenValidator:
    document = await _jwks(stub)
    return TokenValidator(CachedJwks(lambda: document), issuer="https://gateway.test", audience="teei-api")


async def _error(call: Any) -> tuple[grpc.StatusCode, error_details_pb2.ErrorInfo]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = rpc_status.from_call(caught.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return caught.value.code(), info


async def test_jwks_publishes_active_and_next_public_keys_with_cache_control(
    served: tuple[Stub, dict[str, str]],
) -> None:
    stub, _ = served
    call = stub.GetJwks(gateway_pb2.GetJwksRequest())
    assert ("cache-control", "public, max-age=300") in tuple(await call.initial_metadata())
    keys = (await call).keys
    assert len(keys) == 2
    for key in keys:
        assert (key.kty, key.use, key.alg, key.e) == ("RSA", "sig", "RS256", "AQAB")
        as_dict = json_format.MessageToDict(key, preserving_proto_field_name=True)
        assert key.kid == jose.thumbprint(as_dict)
        assert len(base64.urlsafe_b64decode(key.n + "==")) == 256


async def test_issue_token_with_a_form_body_returns_a_valid_bearer_token(served: tuple[Stub, dict[str, str]]) -> None:
    stub, secrets = served
    request = _form(grant_type="client_credentials", client_id="acme-sync", client_secret=secrets["acme-sync"])
    call = stub.IssueToken(request)
    response = await call
    assert ("cache-control", "no-store") in tuple(await call.initial_metadata())
    assert (response.token_type, response.expires_in, response.scope) == ("Bearer", 900, "profiles:read")
    principal = (await _validator(stub)).validate(response.access_token)
    assert (principal.subject, principal.tenant, principal.role) == ("acme-sync", "acme", "service")


async def test_issue_token_with_basic_credentials_and_json_body(served: tuple[Stub, dict[str, str]]) -> None:
    stub, secrets = served
    basic = base64.b64encode(f"globex-sync:{secrets['globex-sync']}".encode()).decode()
    body = httpbody_pb2.HttpBody(content_type="application/json", data=b'{"grant_type": "client_credentials"}')
    response = await stub.IssueToken(
        gateway_pb2.IssueTokenRequest(body=body), metadata=(("authorization", f"Basic {basic}"),)
    )
    assert (await _validator(stub)).validate(response.access_token).tenant == "globex"


async def test_tenant_comes_from_the_credentials_never_from_a_header(served: tuple[Stub, dict[str, str]]) -> None:
    stub, secrets = served
    request = _form(grant_type="client_credentials", client_id="acme-sync", client_secret=secrets["acme-sync"])
    response = await stub.IssueToken(request, metadata=tenant("globex"))
    assert (await _validator(stub)).validate(response.access_token).tenant == "acme"


@pytest.mark.parametrize(
    ("client_id", "secret_of"),
    [("acme-sync", None), ("nobody", "acme-sync"), ("acme-sync", "globex-sync")],
    ids=["wrong-secret", "unknown-client", "cross-tenant-secret"],
)
async def test_bad_credentials_are_unauthenticated_invalid_client(
    served: tuple[Stub, dict[str, str]], client_id: str, secret_of: str | None
) -> None:
    stub, secrets = served
    secret = secrets[secret_of] if secret_of else "wrong-" + secrets["acme-sync"]
    request = _form(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    code, info = await _error(stub.IssueToken(request))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert (info.reason, info.metadata["error"]) == ("INVALID_CLIENT", "invalid_client")


@pytest.mark.parametrize(
    ("request_message", "reason"),
    [
        (_form(grant_type="password", client_id="acme-sync", client_secret="x"), "UNSUPPORTED_GRANT_TYPE"),
        (
            gateway_pb2.IssueTokenRequest(body=httpbody_pb2.HttpBody(content_type=FORM, data=b"grant_type")),
            "INVALID_REQUEST",
        ),
        (
            gateway_pb2.IssueTokenRequest(body=httpbody_pb2.HttpBody(content_type=FORM, data=b"x" * 9000)),
            "INVALID_REQUEST",
        ),
        (
            gateway_pb2.IssueTokenRequest(
                body=httpbody_pb2.HttpBody(content_type=FORM, data=b"client_id=a&client_id=a")
            ),
            "INVALID_REQUEST",
        ),
    ],
    ids=["unsupported-grant", "malformed", "oversized", "repeated-parameter"],
)
async def test_malformed_token_requests_are_invalid_argument(
    served: tuple[Stub, dict[str, str]], request_message: gateway_pb2.IssueTokenRequest, reason: str
) -> None:
    stub, _ = served
    code, info = await _error(stub.IssueToken(request_message))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert info.reason == reason


async def test_replayed_request_gets_a_fresh_token(served: tuple[Stub, dict[str, str]]) -> None:
    """Client credentials are not single-use; each answer is a new token with its own id."""
    stub, secrets = served
    request = _form(grant_type="client_credentials", client_id="acme-sync", client_secret=secrets["acme-sync"])
    validator = await _validator(stub)
    first, second = [(await stub.IssueToken(request)).access_token for _ in range(2)]
    assert validator.validate(first).token_id != validator.validate(second).token_id


async def test_own_export_needs_a_token_naming_the_callers_email(served: tuple[Stub, dict[str, str]]) -> None:
    """One's own data is found by the validated token's e-mail; a token without one finds nobody."""
    stub, _ = served
    call = stub.ExportOwnData(gateway_pb2.ExportOwnDataRequest(), metadata=tenant("acme", role="participant"))
    code, info = await _error(call)
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PRIVACY_SUBJECT_NOT_IDENTIFIED")


async def test_without_privacy_services_a_request_is_refused_not_completed_vacuously(
    served: tuple[Stub, dict[str, str]],
) -> None:
    """A gateway that knows no personal-data service cannot answer a data-subject request: it says so."""
    stub, _ = served
    request = gateway_pb2.ExportSubjectDataRequest(subject=types_pb2.DataSubject(email="ada@example.org"), reason="r")
    code, info = await _error(stub.ExportSubjectData(request, metadata=tenant("acme")))
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PRIVACY_NOT_CONFIGURED")
