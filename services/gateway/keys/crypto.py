"""Key material: new signing key pairs named by their RFC 7638 thumbprint, and signing access tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.kit.security import jose
from services.kit.security.jose import PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """A fresh key pair: its kid, public JWK and PKCS#8 private key (not yet sealed)."""

    kid: str
    algorithm: str
    public_jwk: dict[str, str]
    private_pem: bytes


def generate(algorithm: str) -> KeyPair:
    """A new RS256 (RSA 2048) or ES256 (P-256) key pair."""
    private: PrivateKey
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    public = jose.public_jwk(private, alg=algorithm)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(kid=public["kid"], algorithm=algorithm, public_jwk=public, private_pem=pem)


def sign_jwt(claims: Mapping[str, object], private_key: PrivateKey, *, algorithm: str, kid: str) -> str:
    """A compact JWS access token with the kid in its header."""
    return jose.sign(claims, private_key, alg=algorithm, headers={"kid": kid, "typ": "at+jwt"})
