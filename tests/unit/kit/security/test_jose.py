"""JOSE: every failed check is named, times honour the leeway, and exported JWKs carry RFC 7638 thumbprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.kit.security import jose
from services.kit.security.jose import Check, Expected, JoseError

NOW = 1_800_000_000
ISSUER, AUDIENCE = "https://issuer.test", "teei-api"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_JWK = jose.public_jwk(RSA_KEY, alg="RS256")
EC_JWK = jose.public_jwk(EC_KEY, alg="ES256")
PUBLISHED = jose.import_jwk(RSA_JWK, alg="RS256")
EXPECTED = Expected(issuer=ISSUER, audience=AUDIENCE, required=("iss", "aud", "sub", "exp", "iat"))


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "s-1", "iat": NOW, "nbf": NOW, "exp": NOW + 300} | changes
    return {name: value for name, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], *, key: Any = RSA_KEY, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": RSA_JWK["kid"], **header})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


def _check(token: str, *, key: jose.VerifyingKey | None = PUBLISHED, expected: Expected = EXPECTED) -> Check:
    try:
        header = jose.read_header(token, require_kid=True)
        jose.verify(token, key, header=header, expected=expected, now=NOW)
    except JoseError as error:
        return error.check
    raise AssertionError("the token was accepted")


def test_a_valid_token_gives_its_claims() -> None:
    token = _sign(_claims())
    header = jose.read_header(token, require_kid=True)
    assert header == jose.Header(alg="RS256", kid=RSA_JWK["kid"])
    claims = jose.verify(token, PUBLISHED, header=header, expected=EXPECTED, now=NOW)
    assert claims["sub"] == "s-1"


def test_a_token_verifies_with_a_bare_public_key() -> None:
    token = _sign(_claims(), key=EC_KEY, alg="ES256")
    header = jose.read_header(token)
    claims = jose.verify(token, EC_KEY.public_key(), header=header, expected=EXPECTED, now=NOW)
    assert claims["iss"] == ISSUER


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.%%%.sig"])
def test_garbage_is_malformed(token: str) -> None:
    assert _check(token) is Check.MALFORMED


def test_unsigned_and_symmetric_tokens_fail_the_algorithm_check() -> None:
    """alg none, and the classic confusion attack: the public key used as an HMAC secret."""
    assert _check(_compact({"alg": "none", "kid": "k"}, _claims())) is Check.ALGORITHM
    unsigned = _compact({"alg": "HS256", "kid": RSA_JWK["kid"]}, _claims()).rsplit(".", 1)[0]
    mac = hmac.new(json.dumps(RSA_JWK).encode(), unsigned.encode(), hashlib.sha256).digest()
    assert _check(f"{unsigned}.{_b64(mac)}") is Check.ALGORITHM


def test_algorithm_must_be_the_named_keys() -> None:
    assert _check(_sign(_claims(), key=EC_KEY, alg="ES256")) is Check.ALGORITHM


@pytest.mark.parametrize("name", jose.KEY_REFERENCE_HEADERS)
def test_tokens_naming_their_own_key_fail_the_header_check(name: str) -> None:
    assert _check(_sign(_claims(), **{name: "https://evil.example/keys"})) is Check.HEADER


@pytest.mark.parametrize("kid", ["../../etc/passwd", "a/b", "", "k" * 129, None])
def test_a_required_kid_must_be_a_base64url_name(kid: str | None) -> None:
    header = {"alg": "RS256"} | ({} if kid is None else {"kid": kid})
    assert _check(_compact(header, _claims(), b"x" * 256)) is Check.KID


def test_an_optional_kid_may_be_absent() -> None:
    assert jose.read_header(_compact({"alg": "ES256"}, _claims())) == jose.Header(alg="ES256", kid=None)


def test_an_unpublished_key_and_a_bad_signature_are_told_apart() -> None:
    assert _check(_sign(_claims()), key=None) is Check.KEY_UNKNOWN
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _check(_sign(_claims(), key=other)) is Check.SIGNATURE


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"iss": "https://evil.example"}, Check.ISSUER),
        ({"aud": "another-api"}, Check.AUDIENCE),
        ({"sub": None}, Check.CLAIM_MISSING),
        ({"sub": 7}, Check.CLAIM_INVALID),
        ({"exp": "tomorrow"}, Check.CLAIM_INVALID),
        ({"iat": True}, Check.CLAIM_INVALID),
        ({"exp": NOW - 30}, Check.EXPIRED),
        ({"nbf": NOW + 31}, Check.NOT_YET_VALID),
        ({"iat": NOW + 31, "nbf": None}, Check.NOT_YET_VALID),
    ],
)
def test_each_failed_claim_check_is_named(changes: dict[str, Any], check: Check) -> None:
    assert _check(_sign(_claims(**changes))) is check


def test_a_missing_claim_is_named() -> None:
    header = jose.Header("RS256", None)
    with pytest.raises(JoseError) as caught:
        jose.verify(_sign(_claims(sub=None)), RSA_KEY.public_key(), header=header, expected=EXPECTED, now=NOW)
    assert (caught.value.check, caught.value.claim) == (Check.CLAIM_MISSING, "sub")


def test_times_honour_the_leeway() -> None:
    header = jose.Header("RS256", RSA_JWK["kid"])
    for claims in (_claims(exp=NOW - 29), _claims(nbf=NOW + 30), _claims(iat=NOW + 30, nbf=None)):
        assert jose.verify(_sign(claims), PUBLISHED, header=header, expected=EXPECTED, now=NOW)["sub"] == "s-1"


def test_a_maximum_lifetime_is_enforced_when_asked() -> None:
    brief = Expected(issuer=ISSUER, audience=AUDIENCE, leeway=5, max_lifetime=60)
    assert _check(_sign(_claims(exp=NOW + 66)), expected=brief) is Check.TOO_LONG_LIVED
    header = jose.Header("RS256", RSA_JWK["kid"])
    assert jose.verify(_sign(_claims(exp=NOW + 65)), PUBLISHED, header=header, expected=brief, now=NOW)["exp"]


def test_rfc7638_thumbprint_example() -> None:
    """The RSA example key of RFC 7638 section 3.1 has the thumbprint the RFC states."""
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
            "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
            "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
            "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jose.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("jwk", "members"),
    [(RSA_JWK, {"kty", "n", "e", "use", "alg", "kid"}), (EC_JWK, {"kty", "crv", "x", "y", "use", "alg", "kid"})],
    ids=["RS256", "ES256"],
)
def test_exported_jwks_are_public_signing_keys_named_by_thumbprint(jwk: dict[str, str], members: set[str]) -> None:
    assert set(jwk) == members
    assert jwk["use"] == "sig"
    assert jwk["kid"] == jose.thumbprint(jwk)


def test_ec_coordinates_are_full_width() -> None:
    """P-256 coordinates are always 32 bytes (RFC 7518 section 6.2.1.2), even with leading zeros."""
    assert len(base64.urlsafe_b64decode(EC_JWK["x"] + "=")) == 32
    assert len(base64.urlsafe_b64decode(EC_JWK["y"] + "=")) == 32


def test_keys_that_cannot_sign_the_algorithm_are_not_exported() -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        jose.public_jwk(RSA_KEY, alg="ES256")
    with pytest.raises(ValueError, match="cannot sign"):
        jose.public_jwk(ec.generate_private_key(ec.SECP384R1()), alg="ES256")


@pytest.mark.parametrize(
    "entry",
    [
        {**RSA_JWK, "alg": "HS256"},
        {**RSA_JWK, "use": "enc"},
        EC_JWK,
        {"kty": "RSA", "e": "AQAB"},
    ],
    ids=["other-alg", "encryption-key", "other-key-type", "broken"],
)
def test_jwks_entries_that_are_not_rs256_signing_keys_are_not_imported(entry: dict[str, str]) -> None:
    assert jose.import_jwk(entry, alg="RS256") is None


def test_sign_puts_the_headers_in_place() -> None:
    token = jose.sign({"sub": "s"}, EC_KEY, alg="ES256", headers={"kid": "k-1", "typ": "at+jwt"})
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "k-1", "typ": "at+jwt"}
