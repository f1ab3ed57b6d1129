"""Key material: generation, RFC 7638 thumbprints, sealing private keys at rest, signing JWTs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.gateway.domain.errors import KeyUnsealFailed
from services.kit.logs import get_logger

log = get_logger(__name__)
KEK_FILE = "gateway-key-encryption.key"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


@dataclass(frozen=True)
class KeyPair:
    """A fresh key pair: its kid, public JWK and PKCS#8 private key (not yet sealed)."""

    kid: str
    algorithm: str
    public_jwk: dict[str, str]
    private_pem: bytes


def b64url(raw: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uint(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK: required members only, sorted, no whitespace."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def generate(algorithm: str) -> KeyPair:
    """A new RS256 (RSA 2048) or ES256 (P-256) key pair."""
    private: PrivateKey
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = private.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        point = private.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": _uint(point.x, 32), "y": _uint(point.y, 32)}
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    kid = thumbprint(jwk)
    public = {**jwk, "use": "sig", "alg": algorithm, "kid": kid}
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(kid=kid, algorithm=algorithm, public_jwk=public, private_pem=pem)


class KeySealer:
    """AES-256-GCM with the key id as associated data, so a sealed key cannot be swapped onto another kid."""

    def __init__(self, key_encryption_key: bytes) -> None:
        if len(key_encryption_key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(key_encryption_key)

    def seal(self, kid: str, private_pem: bytes) -> bytes:
        """nonce ‖ ciphertext."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, private_pem, kid.encode())

    def unseal(self, kid: str, sealed: bytes) -> PrivateKey:
        """The private key, or KeyUnsealFailed when the key-encryption key (or the row) is wrong."""
        try:
            pem = self._aead.decrypt(sealed[:12], sealed[12:], kid.encode())
        except InvalidTag as exc:
            raise KeyUnsealFailed(f"cannot decrypt the private key {kid}: wrong TEEI_KEY_ENCRYPTION_KEY?") from exc
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyUnsealFailed(f"key {kid} is not an RSA or EC private key")
        return key


def parse_kek(value: str) -> bytes:
    """A key-encryption key given as base64 (standard or url-safe) of 32 bytes."""
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise ValueError("TEEI_KEY_ENCRYPTION_KEY is not base64") from exc
    if len(raw) != 32:
        raise ValueError("TEEI_KEY_ENCRYPTION_KEY must encode 32 bytes")
    return raw


def load_kek(configured: str | None, var_dir: Path) -> bytes:
    """The configured key-encryption key; in development, one generated once into var/ (mode 0600)."""
    if configured:
        return parse_kek(configured)
    path = var_dir / KEK_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return parse_kek(path.read_text())  # another process created it first
        with os.fdopen(descriptor, "w") as handle:
            handle.write(b64url(secrets.token_bytes(32)) + "\n")
        log.warning("gateway.kek_generated", path=str(path), hint="set TEEI_KEY_ENCRYPTION_KEY(_FILE) in production")
    else:
        log.warning("gateway.kek_from_var", path=str(path), hint="set TEEI_KEY_ENCRYPTION_KEY(_FILE) in production")
    return parse_kek(path.read_text())


def sign_jwt(claims: dict[str, Any], private_key: PrivateKey, *, algorithm: str, kid: str) -> str:
    """A compact JWS access token with the kid in its header."""
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid, "typ": "at+jwt"})
