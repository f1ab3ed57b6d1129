"""Private keys sealed at rest with the key-encryption key (AES-256-GCM), and where that key comes from."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.gateway.domain.errors import KeyUnsealFailed
from services.kit.logs import get_logger
from services.kit.security import generated
from services.kit.security.jose import PrivateKey

log = get_logger(__name__)
KEK_FILE = "gateway-key-encryption.key"


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
    path, hint = var_dir / KEK_FILE, "set TEEI_KEY_ENCRYPTION_KEY(_FILE) in production"
    if path.exists():
        log.warning("gateway.kek_from_var", path=str(path), hint=hint)
    return parse_kek(generated.secret_file(path, event="gateway.kek_generated", hint=hint))
