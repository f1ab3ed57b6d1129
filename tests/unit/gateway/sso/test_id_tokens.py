"""ID tokens without a network: algorithm, key, signature, issuer, audience, authorized party and times."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.gateway.domain.errors import IdTokenRejected
from services.gateway.sso import id_tokens
from services.kit.errors import Unauthenticated
from services.kit.security import jose

ISSUER = "https://idp.example.org"
CLIENT = "teei-gateway"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u-1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _sign(claims: dict[str, Any], *, key: Any = RSA_KEY, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1", **header})


def _verify(token: str, *, key: Any = RSA_KEY, alg: str = "RS256", now: float | None = None) -> dict[str, Any]:
    public = jose.import_jwk(jose.public_jwk(key, alg=alg), alg=alg)
    expected = id_tokens.Expected(provider="corp", issuer=ISSUER, client_id=CLIENT, now=now or time.time())
    return id_tokens.verify(token, public, header=jose.Header(alg, "k1"), expected=expected)


def _header_and_claims(token: str) -> dict[str, Any]:
    id_tokens.header(token, provider="corp")
    return _verify(token)


def _rejected(token: str) -> str:
    with pytest.raises(IdTokenRejected) as caught:
        _header_and_claims(token)
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.check


def test_a_valid_rs256_or_es256_id_token_gives_its_claims() -> None:
    assert _verify(_sign(_claims()))["sub"] == "u-1"
    assert _verify(_sign(_claims(), key=EC_KEY, alg="ES256"), key=EC_KEY, alg="ES256")["sub"] == "u-1"
    assert id_tokens.header(_sign(_claims()), provider="corp") == jose.Header("RS256", "k1")


def test_symmetric_and_unsigned_tokens_are_refused_before_any_key_is_chosen() -> None:
    assert _rejected(jwt.encode(_claims(), "k" * 32, algorithm="HS256")) == "algorithm"
    unsigned = b".".join(_b64(json.dumps(part).encode()) for part in ({"alg": "none"}, _claims())) + b"."
    assert _rejected(unsigned.decode()) == "algorithm"
    assert _rejected("not-a-jwt") == "malformed"


def test_tokens_naming_their_own_key_are_refused() -> None:
    assert _rejected(_sign(_claims(), jku="https://evil.example/jwks")) == "header"


def test_signature_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _rejected(_sign(_claims(), key=other)) == "signature"


def test_unknown_key_is_refused() -> None:
    expected = id_tokens.Expected("corp", ISSUER, CLIENT, 0)
    with pytest.raises(IdTokenRejected) as caught:
        id_tokens.verify(_sign(_claims()), None, header=jose.Header("RS256", "k1"), expected=expected)
    assert caught.value.check == "kid"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"iss": "https://other.example"}, "issuer"),
        ({"aud": "another-client"}, "audience"),
        ({"aud": [CLIENT, "another-client"]}, "azp"),
        ({"aud": [CLIENT, "another-client"], "azp": "another-client"}, "azp"),
        ({"azp": "another-client"}, "azp"),
        ({"sub": None}, "claims"),
        ({"exp": None}, "claims"),
        ({"exp": -120}, "expired"),  # times are offsets from the moment the test runs
        ({"iat": +600}, "not_yet_valid"),
    ],
)
def test_each_failed_check_is_named(changes: dict[str, Any], check: str) -> None:
    now = int(time.time())
    timed = {k: now + v if k in {"exp", "iat"} and v is not None else v for k, v in changes.items()}
    assert _rejected(_sign(_claims(**timed))) == check


def test_several_audiences_pass_when_the_authorized_party_is_this_client() -> None:
    assert _verify(_sign(_claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


def test_small_clock_skew_is_tolerated() -> None:
    assert _verify(_sign(_claims(exp=int(time.time()) - 30)))["sub"] == "u-1"
