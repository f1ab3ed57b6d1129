"""Access-token validation: every bad token is UNAUTHENTICATED with a precise reason; roles and allow-lists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.kit.errors import PermissionDenied, Unauthenticated, Unavailable
from services.kit.security import auth, jose
from services.kit.security.access import AccessRule
from services.kit.security.auth import CachedJwks, Principal, TokenRejected, TokenValidator
from services.kit.testing import Issuer
from teei.common.v1 import access_pb2
from tests.support import JwksServer

NOW = 1_800_000_000
ISSUER, AUDIENCE = "https://gateway.test", "teei-api"


@dataclass(frozen=True)
class KeyPair:
    """A signing key and the public JWK the issuer publishes for it."""

    algorithm: str
    private: jose.PrivateKey
    public_jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]


def _pair(algorithm: str) -> KeyPair:
    private: jose.PrivateKey
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(algorithm, private, jose.public_jwk(private, alg=algorithm))


RSA_KEY = _pair("RS256")
EC_KEY = _pair("ES256")
OTHER_RSA = _pair("RS256")


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "client-1",
        "role": "company_admin",
        "company": "acme",
        "email": "ada@example.org",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "token-1",
        "scope": "b a",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(pair: KeyPair, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, pair.private, algorithm=pair.algorithm, headers={"kid": pair.kid, **header})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


def _jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.public_jwk for pair in pairs]}


def _validator(*pairs: KeyPair, now: float = NOW) -> TokenValidator:
    jwks = CachedJwks(lambda: _jwks(*pairs), clock=lambda: now)
    return TokenValidator(jwks, issuer=ISSUER, audience=AUDIENCE, clock=lambda: now)


def _rejection(token: str, validator: TokenValidator | None = None) -> str:
    with pytest.raises(TokenRejected) as caught:
        (validator or _validator(RSA_KEY, EC_KEY)).validate(token)
    assert isinstance(caught.value, Unauthenticated)
    assert caught.value.metadata["reason"] == caught.value.reason
    return caught.value.reason


@pytest.mark.parametrize("pair", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_valid_token_yields_the_principal(pair: KeyPair) -> None:
    principal = _validator(RSA_KEY, EC_KEY).validate(_sign(pair, _claims()))
    assert principal == Principal(
        subject="client-1",
        tenant="acme",
        role="company_admin",
        email="ada@example.org",
        token_id="token-1",
        scopes=frozenset({"a", "b"}),
    )


def test_super_admin_needs_no_company() -> None:
    principal = _validator(RSA_KEY).validate(_sign(RSA_KEY, _claims(role="super_admin", company=None)))
    assert principal.tenant is None


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.%%%.sig"])
def test_garbage_is_malformed(token: str) -> None:
    assert _rejection(token) == "TOKEN_MALFORMED"


def test_alg_none_is_refused() -> None:
    token = _compact({"alg": "none", "kid": RSA_KEY.kid, "typ": "JWT"}, _claims())
    assert _rejection(token) == "TOKEN_ALGORITHM_NOT_ALLOWED"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_is_refused(alg: str) -> None:
    """The classic algorithm-confusion attack: the public key used as an HMAC secret."""
    header = {"alg": alg, "kid": RSA_KEY.kid, "typ": "JWT"}
    unsigned = _compact(header, _claims()).rsplit(".", 1)[0]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(json.dumps(RSA_KEY.public_jwk).encode(), unsigned.encode(), digest).digest()
    assert _rejection(f"{unsigned}.{_b64(signature)}") == "TOKEN_ALGORITHM_NOT_ALLOWED"


def test_algorithm_must_match_the_named_key() -> None:
    """An ES256 header naming an RSA key is refused before any verification."""
    forged = _sign(EC_KEY, _claims(), kid=RSA_KEY.kid)
    assert _rejection(forged) == "TOKEN_ALGORITHM_NOT_ALLOWED"


def test_unknown_kid_is_refused() -> None:
    assert _rejection(_sign(OTHER_RSA, _claims())) == "TOKEN_KEY_UNKNOWN"


@pytest.mark.parametrize(
    "kid", ["../../etc/passwd", "https://evil.example/jwks.json", "x' OR '1'='1", "a/b", "", "k" * 129, None]
)
def test_injected_or_missing_kid_is_refused(kid: object) -> None:
    header = {"alg": "RS256", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    assert _rejection(_compact(header, _claims(), b"x" * 256)) == "TOKEN_KID_INVALID"


def test_non_string_kid_is_malformed() -> None:
    header = {"alg": "RS256", "typ": "JWT", "kid": 7}
    assert _rejection(_compact(header, _claims(), b"x" * 256)) == "TOKEN_MALFORMED"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_tokens_naming_their_own_keys_are_refused(name: str) -> None:
    token = _sign(RSA_KEY, _claims(), **{name: "https://evil.example/keys"})
    assert _rejection(token) == "TOKEN_HEADER_NOT_ALLOWED"


def test_bad_signature_is_refused() -> None:
    """Signed by another key that claims a published kid, or with the signature bytes altered."""
    assert _rejection(_sign(OTHER_RSA, _claims(), kid=RSA_KEY.kid)) == "TOKEN_SIGNATURE_INVALID"
    head, body, signature = _sign(RSA_KEY, _claims()).split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    assert _rejection(f"{head}.{body}.{flipped}") == "TOKEN_SIGNATURE_INVALID"
    tampered_body = _b64(json.dumps(_claims(role="super_admin")).encode())
    assert _rejection(f"{head}.{tampered_body}.{signature}") == "TOKEN_SIGNATURE_INVALID"


def test_expiry_honours_the_leeway() -> None:
    assert _validator(RSA_KEY).validate(_sign(RSA_KEY, _claims(exp=NOW - 29))).subject == "client-1"
    assert _rejection(_sign(RSA_KEY, _claims(exp=NOW - 30))) == "TOKEN_EXPIRED"
    assert _rejection(_sign(RSA_KEY, _claims(iat=NOW - 2000, nbf=NOW - 2000, exp=NOW - 1000))) == "TOKEN_EXPIRED"


def test_not_yet_valid_honours_the_leeway() -> None:
    assert _validator(RSA_KEY).validate(_sign(RSA_KEY, _claims(nbf=NOW + 30))).subject == "client-1"
    assert _rejection(_sign(RSA_KEY, _claims(nbf=NOW + 31))) == "TOKEN_NOT_YET_VALID"
    assert _rejection(_sign(RSA_KEY, _claims(iat=NOW + 600, nbf=None))) == "TOKEN_NOT_YET_VALID"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example"}, "TOKEN_ISSUER_INVALID"),
        ({"aud": "another-api"}, "TOKEN_AUDIENCE_INVALID"),
        ({"aud": ["another-api", "third"]}, "TOKEN_AUDIENCE_INVALID"),
        ({"role": "emperor"}, "TOKEN_CLAIM_INVALID"),
        ({"sub": ""}, "TOKEN_CLAIM_INVALID"),
        ({"exp": "tomorrow"}, "TOKEN_CLAIM_INVALID"),
        ({"iat": True}, "TOKEN_CLAIM_INVALID"),
        ({"company": None}, "TOKEN_CLAIM_MISSING"),
        ({"company": ""}, "TOKEN_CLAIM_MISSING"),
    ],
)
def test_wrong_claims_are_refused(changes: dict[str, Any], reason: str) -> None:
    assert _rejection(_sign(RSA_KEY, _claims(**changes))) == reason


@pytest.mark.parametrize(
    "company",
    ["   ", "*", "%", "acme ", " acme", "acme\n", "Acme", "ACME", "ac\x00me", "../acme", "a" * 64, 7, ["acme"]],
)
@pytest.mark.parametrize("role", ["company_admin", "company_user", "participant", "service", "super_admin"])
def test_a_company_claim_that_is_not_a_canonical_tenant_id_is_refused(company: object, role: str) -> None:
    """Issue 10: whitespace, wildcards, trailing space or upper case were accepted as tenants."""
    token = _sign(RSA_KEY, _claims(company=company, role=role))
    with pytest.raises(TokenRejected) as refused:
        _validator(RSA_KEY).validate(token)
    assert refused.value.reason == "TOKEN_CLAIM_INVALID"
    assert "company" in refused.value.message


def test_audience_list_containing_ours_is_accepted() -> None:
    token = _sign(RSA_KEY, _claims(aud=["other", AUDIENCE]))
    assert _validator(RSA_KEY).validate(token).tenant == "acme"


@pytest.mark.parametrize("claim", auth.REQUIRED_CLAIMS)
def test_each_required_claim_is_required(claim: str) -> None:
    assert _rejection(_sign(RSA_KEY, _claims(**{claim: None}))) == "TOKEN_CLAIM_MISSING"


def test_unknown_kid_refetches_at_most_once_per_interval() -> None:
    published = [RSA_KEY]
    fetches: list[float] = []
    clock = [0.0]

    def fetch() -> dict[str, Any]:
        fetches.append(clock[0])
        return _jwks(*published)

    jwks = CachedJwks(fetch, max_age=300, min_refetch=30, clock=lambda: clock[0])
    assert jwks.key(RSA_KEY.kid) is not None
    assert jwks.key(OTHER_RSA.kid) is None
    assert jwks.key(OTHER_RSA.kid) is None  # a flood of unknown kids does not hammer the issuer
    assert fetches == [0.0]
    published.append(OTHER_RSA)
    clock[0] = 31.0
    assert jwks.key(OTHER_RSA.kid) is not None
    assert fetches == [0.0, 31.0]
    clock[0] = 331.0
    assert jwks.key(RSA_KEY.kid) is not None  # cache period over: refetched even for a known kid
    assert fetches == [0.0, 31.0, 331.0]


def test_fetch_failure_keeps_the_cached_keys_and_fails_closed_without_any() -> None:
    calls = [0]

    def flaky() -> dict[str, Any]:
        calls[0] += 1
        if calls[0] > 1:
            raise OSError("issuer down")
        return _jwks(RSA_KEY)

    clock = [0.0]
    jwks = CachedJwks(flaky, max_age=10, clock=lambda: clock[0])
    assert jwks.key(RSA_KEY.kid) is not None
    clock[0] = 100.0
    assert jwks.key(RSA_KEY.kid) is not None
    broken = CachedJwks(lambda: (_ for _ in ()).throw(OSError("down")))
    with pytest.raises(Unavailable):
        broken.key(RSA_KEY.kid)


def test_jwks_entries_that_are_not_signing_keys_are_ignored() -> None:
    document = {"keys": [{**RSA_KEY.public_jwk, "alg": "HS256"}, {**EC_KEY.public_jwk, "use": "enc"}, {"kid": "x"}]}
    jwks = CachedJwks(lambda: document)
    assert jwks.key(RSA_KEY.kid) is None
    assert jwks.key(EC_KEY.kid) is None


def test_http_jwks_source_feeds_the_validator() -> None:
    issuer = Issuer(issuer=ISSUER, audience=AUDIENCE)
    with JwksServer(issuer) as server:
        validator = TokenValidator(CachedJwks(auth.http_jwks(server.url)), issuer=ISSUER, audience=AUDIENCE)
        assert validator.validate(issuer.sign(issuer.claims(subject="client-1"))).subject == "client-1"
    with pytest.raises(ValueError, match="http"):
        auth.http_jwks("file:///etc/passwd")


def test_http_jwks_refuses_a_page_that_is_not_the_key_set() -> None:
    """A 404 (or anything but a 200 JSON object) is a failed fetch: without cached keys, UNAVAILABLE."""
    with JwksServer() as server:
        jwks = CachedJwks(auth.http_jwks(server.url.replace("/jwks", "/elsewhere")))
        with pytest.raises(Unavailable):
            jwks.key("any-kid")


def test_role_table_matches_the_domain_brief() -> None:
    names = set(access_pb2.Permission.keys()) - {"PERMISSION_UNSPECIFIED"}
    assert auth.permissions_for("super_admin") == names
    assert auth.permissions_for("company_user") == {
        "PERMISSION_COMPANY_DATA_READ",
        "PERMISSION_PROGRAMMES_READ",
        "PERMISSION_DATA_EXPORT",
    }
    admin = auth.permissions_for("company_admin")
    assert "PERMISSION_USERS_WRITE" in admin
    assert "PERMISSION_AUDIT_LOGS_READ" in admin
    assert "PERMISSION_PLATFORM_OPERATE" not in admin
    assert auth.permissions_for("participant") == {
        "PERMISSION_PROGRAMMES_READ",
        "PERMISSION_OWN_DATA_EXPORT",
        "PERMISSION_OWN_DATA_DELETE",
    }
    assert auth.permissions_for("volunteer") == {"PERMISSION_PROGRAMMES_READ", "PERMISSION_PROGRAMMES_WRITE"}
    assert auth.permissions_for("service") == frozenset()
    assert auth.permissions_for("nobody") == frozenset()
    for permissions in auth.ROLE_PERMISSIONS.values():
        assert permissions <= names


def _principal(role: str, subject: str = "someone") -> Principal:
    return Principal(subject=subject, tenant="acme", role=role)


def test_authorize_by_role_permission() -> None:
    write = AccessRule(public=False, permission="PERMISSION_USERS_WRITE")
    auth.authorize(_principal("company_admin"), write)
    auth.authorize(_principal("super_admin"), AccessRule(public=False, permission="PERMISSION_PLATFORM_OPERATE"))
    auth.authorize(_principal("participant"), AccessRule(public=True, permission=None))
    for role in ("company_user", "participant", "volunteer", "nobody"):
        with pytest.raises(PermissionDenied):
            auth.authorize(_principal(role), write)


def test_service_identity_gets_only_its_allow_list() -> None:
    read = AccessRule(public=False, permission="PERMISSION_COMPANY_DATA_READ")
    allow = {
        "kintell-sync": frozenset({"/teei.profile.v1.ProfileService/GetProfile"}),
        "q2q-worker": frozenset({"/teei.safety.v1.SafetyService/*"}),
    }
    auth.authorize(
        _principal("service", "kintell-sync"),
        read,
        method="/teei.profile.v1.ProfileService/GetProfile",
        service_allow_list=allow,
    )
    auth.authorize(
        _principal("service", "q2q-worker"),
        read,
        method="/teei.safety.v1.SafetyService/Screen",
        service_allow_list=allow,
    )
    denied = [
        ("kintell-sync", "/teei.profile.v1.ProfileService/CreateProfile"),
        ("q2q-worker", "/teei.profile.v1.ProfileService/GetProfile"),
        ("stranger", "/teei.profile.v1.ProfileService/GetProfile"),
        ("kintell-sync", ""),
    ]
    for subject, method in denied:
        with pytest.raises(PermissionDenied):
            auth.authorize(_principal("service", subject), read, method=method, service_allow_list=allow)
