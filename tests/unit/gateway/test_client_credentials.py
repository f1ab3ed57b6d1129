"""Client-credentials grant through the handlers: secrets hashed, one answer for every bad credential, tenancy."""

from __future__ import annotations

import jwt
import pytest
import sqlalchemy as sa

from services.gateway import handlers, queries
from services.gateway.bootstrap import Gateway
from services.gateway.domain import clients
from services.gateway.domain.commands import IssueToken, MintToken, RegisterClient
from services.gateway.domain.errors import (
    ClientExists,
    InvalidClient,
    InvalidClientSpec,
    InvalidScope,
    InvalidTarget,
    InvalidTokenRequest,
    UnsupportedGrantType,
)
from services.gateway.domain.tokens import IssuedToken
from services.gateway.tables import oauth_clients
from services.kit.tenants import InvalidTenant
from tests.unit.gateway.conftest import FakeClock, register, validator_for


def _issue(gateway: Gateway, clock: FakeClock, client_id: str, secret: str, **extra: str) -> IssuedToken:
    command = IssueToken(
        grant_type=extra.pop("grant_type", "client_credentials"), client_id=client_id, client_secret=secret, **extra
    )
    return handlers.issue_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock)


def test_issued_token_carries_the_clients_identity(gateway: Gateway, clock: FakeClock) -> None:
    secret = register(gateway, "acme-sync", "acme", "service", "profiles:read", "profiles:write")
    issued = _issue(gateway, clock, "acme-sync", secret, scope="profiles:read")
    assert issued.expires_in == 900
    assert issued.scope == "profiles:read"
    header = jwt.get_unverified_header(issued.access_token)
    assert header["alg"] == "RS256"
    assert header["kid"] in {key.kid for key in gateway.keys.published()}
    claims = issued.claims
    assert {"sub", "role", "company", "iss", "aud", "iat", "nbf", "exp", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    principal = validator_for(gateway, clock).validate(issued.access_token)
    assert (principal.subject, principal.tenant, principal.role) == ("acme-sync", "acme", "service")
    assert principal.scopes == {"profiles:read"}


def test_every_token_has_its_own_id(gateway: Gateway, clock: FakeClock) -> None:
    secret = register(gateway, "acme-sync", "acme")
    ids = {_issue(gateway, clock, "acme-sync", secret).claims["jti"] for _ in range(3)}
    assert len(ids) == 3


def test_no_scope_requested_grants_all_of_the_clients(gateway: Gateway, clock: FakeClock) -> None:
    secret = register(gateway, "acme-admin", "acme", "company_admin", "b", "a")
    assert _issue(gateway, clock, "acme-admin", secret).scope == "a b"


def test_secret_is_stored_only_as_a_salted_hash(gateway: Gateway) -> None:
    secret = register(gateway, "acme-sync", "acme")
    register(gateway, "acme-other", "acme")
    with gateway.engine.connect() as connection:
        hashes = connection.execute(sa.select(oauth_clients.c.secret_hash)).scalars().all()
    assert all(h.startswith("scrypt$") and secret not in h for h in hashes)
    assert len(set(hashes)) == 2
    assert clients.secret_matches(secret, hashes[0]) != clients.secret_matches(secret, hashes[1])


@pytest.mark.parametrize(
    ("client_id", "secret"), [("acme-sync", "wrong-secret"), ("nobody", "any"), ("", "x"), ("acme-sync", "")]
)
def test_bad_credentials_are_invalid_client(gateway: Gateway, clock: FakeClock, client_id: str, secret: str) -> None:
    register(gateway, "acme-sync", "acme")
    with pytest.raises(InvalidClient) as caught:
        _issue(gateway, clock, client_id, secret)
    assert caught.value.reason == "INVALID_CLIENT"
    assert caught.value.metadata == {"error": "invalid_client"}


def test_another_tenants_secret_does_not_open_a_client(gateway: Gateway, clock: FakeClock) -> None:
    register(gateway, "acme-sync", "acme")
    globex_secret = register(gateway, "globex-sync", "globex")
    with pytest.raises(InvalidClient):
        _issue(gateway, clock, "acme-sync", globex_secret)
    assert _issue(gateway, clock, "globex-sync", globex_secret).claims["company"] == "globex"


def test_disabled_client_is_invalid(gateway: Gateway, clock: FakeClock) -> None:
    secret = register(gateway, "acme-sync", "acme")
    with gateway.engine.begin() as connection:
        connection.execute(oauth_clients.update().values(disabled=True))
    with pytest.raises(InvalidClient):
        _issue(gateway, clock, "acme-sync", secret)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"grant_type": "password"}, UnsupportedGrantType),
        ({"grant_type": ""}, InvalidTokenRequest),
        ({"scope": "profiles:write"}, InvalidScope),
        ({"audience": "someone-else"}, InvalidTarget),
    ],
)
def test_request_errors_name_the_oauth_error(
    gateway: Gateway, clock: FakeClock, extra: dict[str, str], error: type[Exception]
) -> None:
    secret = register(gateway, "acme-sync", "acme", "service", "profiles:read")
    with pytest.raises(error):
        _issue(gateway, clock, "acme-sync", secret, **extra)


def test_registration_is_validated_and_unique(gateway: Gateway) -> None:
    register(gateway, "acme-sync", "acme")
    with pytest.raises(ClientExists):
        register(gateway, "acme-sync", "globex")
    bad = RegisterClient(client_id="x", company_id="ACME!", role="super_admin", scopes=("bad scope",))
    with pytest.raises(InvalidClientSpec) as caught:
        handlers.register_client(bad, uow=gateway.uow)
    assert {v.field for v in caught.value.violations} == {"client_id", "company_id", "role", "scopes"}
    assert [c.client_id for c in queries.list_clients("acme", uow=gateway.uow)] == ["acme-sync"]
    assert queries.list_clients("globex", uow=gateway.uow) == []


def test_hash_rejects_foreign_formats() -> None:
    assert not clients.secret_matches("x", "bcrypt$whatever")
    assert not clients.secret_matches("x", "scrypt$bad")


def test_minted_development_token_validates(gateway: Gateway, clock: FakeClock) -> None:
    command = MintToken(role="company_user", company_id="acme", subject="dev-user", email="dev@example.org")
    issued = handlers.mint_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock)
    principal = validator_for(gateway, clock).validate(issued.access_token)
    assert (principal.role, principal.tenant, principal.email) == ("company_user", "acme", "dev@example.org")


ODD_TENANTS = ["acme\n", "acme ", " acme", " ", "*", "%", "Acme", "ACME", "a" * 64]


@pytest.mark.parametrize("company", ODD_TENANTS)
def test_a_client_of_a_tenant_in_another_spelling_is_refused_naming_the_field(gateway: Gateway, company: str) -> None:
    command = RegisterClient(client_id="acme-sync", company_id=company, role="service")
    with pytest.raises(InvalidClientSpec) as caught:
        handlers.register_client(command, uow=gateway.uow)
    assert [v.field for v in caught.value.violations] == ["company_id"]
    assert "company_id must be 1-63 lower-case letters" in caught.value.message
    assert queries.list_clients(company, uow=gateway.uow) == []


@pytest.mark.parametrize("company", ODD_TENANTS)
def test_a_token_is_never_minted_for_a_tenant_in_another_spelling(
    gateway: Gateway, clock: FakeClock, company: str
) -> None:
    command = MintToken(role="company_admin", company_id=company, subject="dev")
    with pytest.raises(InvalidTenant) as caught:
        handlers.mint_token(command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock)
    assert [v.field for v in caught.value.violations] == ["company"]


def test_a_client_stored_with_a_tenant_in_another_spelling_gets_no_token(gateway: Gateway, clock: FakeClock) -> None:
    """Rows written before the grammar was enforced everywhere cannot name an odd tenant in a token."""
    secret = register(gateway, "acme-sync", "acme", "service")
    with gateway.engine.begin() as connection:
        connection.execute(sa.update(oauth_clients).values(company_id="acme "))
    with pytest.raises(InvalidTenant):
        _issue(gateway, clock, "acme-sync", secret)
