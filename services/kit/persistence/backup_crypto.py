"""Backup encryption: a key derived from the backup passphrase (scrypt), AES-256-GCM for the key material,
and an HMAC seal over the manifest so that no byte of a backup can change unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

PASSPHRASE_ENV = "TEEI_BACKUP_PASSPHRASE"  # noqa: S105 - the variable's name, not its value
MAGIC = b"TEEIBK1\n"
_SALT, _NONCE = 16, 12
# scrypt's interactive-login cost (2**15): ~50 ms and 32 MiB per derivation.
_N, _R, _P = 2**15, 8, 1
MIN_PASSPHRASE = 12


class BackupCryptoError(Exception):
    """The passphrase is missing or too short, or encrypted data does not authenticate."""


def passphrase_from(environ: dict[str, str] | os._Environ[str]) -> bytes:
    """The backup passphrase from TEEI_BACKUP_PASSPHRASE; refused when missing or shorter than 12 characters."""
    value = environ.get(PASSPHRASE_ENV, "")
    if not value:
        raise BackupCryptoError(f"{PASSPHRASE_ENV} is not set: backups encrypt their key material with it")
    if len(value) < MIN_PASSPHRASE:
        raise BackupCryptoError(f"{PASSPHRASE_ENV} must be at least {MIN_PASSPHRASE} characters")
    return value.encode()


def derive(passphrase: bytes, salt: bytes, *, purpose: bytes) -> bytes:
    """A 32-byte key for `purpose` (encryption and sealing never share a key)."""
    return Scrypt(salt=salt + purpose, length=32, n=_N, r=_R, p=_P).derive(passphrase)


def encrypt(plaintext: bytes, passphrase: bytes) -> bytes:
    """MAGIC, salt, nonce, AES-GCM ciphertext with its tag."""
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    key = derive(passphrase, salt, purpose=b"encrypt")
    return MAGIC + salt + nonce + AESGCM(key).encrypt(nonce, plaintext, MAGIC)


def decrypt(blob: bytes, passphrase: bytes) -> bytes:
    """The plaintext of `encrypt`; BackupCryptoError on a wrong passphrase or any altered byte."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _SALT + _NONCE + 16:
        raise BackupCryptoError("not an encrypted backup file")
    body = blob[len(MAGIC) :]
    salt, nonce, ciphertext = body[:_SALT], body[_SALT : _SALT + _NONCE], body[_SALT + _NONCE :]
    try:
        return AESGCM(derive(passphrase, salt, purpose=b"encrypt")).decrypt(nonce, ciphertext, MAGIC)
    except InvalidTag:
        raise BackupCryptoError("wrong passphrase or altered data") from None


def seal(document: bytes, passphrase: bytes) -> str:
    """`<salt hex> <hmac-sha256 hex>` over `document`."""
    salt = os.urandom(_SALT)
    mac = hmac.new(derive(passphrase, salt, purpose=b"seal"), document, hashlib.sha256).hexdigest()
    return f"{salt.hex()} {mac}\n"


def seal_holds(document: bytes, sealed: str, passphrase: bytes) -> bool:
    """True when `sealed` (from `seal`) authenticates `document` under `passphrase`."""
    parts = sealed.split()
    if len(parts) != 2:
        return False
    try:
        salt = bytes.fromhex(parts[0])
    except ValueError:
        return False
    expected = hmac.new(derive(passphrase, salt, purpose=b"seal"), document, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts[1])
