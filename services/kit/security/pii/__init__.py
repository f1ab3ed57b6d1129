"""Personal data encrypted at rest: the keyring of key-encryption keys, the per-subject data keys in a
key store apart from the data, and the field cipher with blind indexes (docs/privacy/encryption.md)."""

from __future__ import annotations

import weakref
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.config import ConfigError, ServiceConfig
from services.kit.security.pii.cipher import FieldTampered, Keys, PiiCipher, SubjectErased, is_sealed
from services.kit.security.pii.keyring import KEYRING_FILE, Keyring, KeyringError, KeyringSource, ensure_file
from services.kit.security.pii.keystore import SubjectKeys, keystore_url

__all__ = [
    "EMAIL",
    "FieldTampered",
    "Keyring",
    "KeyringError",
    "KeyringSource",
    "Keys",
    "PiiCipher",
    "SubjectErased",
    "SubjectKeys",
    "attach",
    "attached",
    "cipher_for",
    "is_sealed",
    "keyring_path",
    "keyring_source",
    "local",
    "optional",
]


def keyring_path(config: ServiceConfig) -> Path:
    """The keyring file: TEEI_PII_KEYRING_PATH, else var/pii-keyring.json."""
    return config.pii_keyring_path or config.var_dir / KEYRING_FILE


def keyring_source(config: ServiceConfig) -> KeyringSource:
    """The keyring of the configuration: a fixed document (TEEI_PII_KEYRING), else its file (created in
    development on first use), re-read when `teei keys rotate --purpose pii` changes it."""
    if config.pii_keyring:
        return KeyringSource(text=config.pii_keyring)
    path = keyring_path(config)
    if config.pii_keystore_required and not path.exists():
        raise ConfigError(f"TEEI_PII_KEYSTORE_REQUIRED: no PII keyring at {path} (mount it or set TEEI_PII_KEYRING)")
    ensure_file(path)
    return KeyringSource(path=path)


def cipher_for(config: ServiceConfig, service: str) -> PiiCipher:
    """The service's field cipher on its key store (TEEI_PII_KEYSTORE_URL or var/keystore/<service>.db)."""
    if config.pii_keystore_required and not config.pii_keystore_url:
        raise ConfigError("TEEI_PII_KEYSTORE_REQUIRED: set TEEI_PII_KEYSTORE_URL (a key store apart from the data)")
    url = keystore_url(config.var_dir, service, config.pii_keystore_url)
    return PiiCipher(SubjectKeys.open(url, keyring_source(config)))


# The kind of blind index an e-mail has, in every service (a subject's e-mail is matched by it).
EMAIL = "email"

# The cipher of each database, by URL: repositories and the export/erasure map reach it from their session
# (event consumers get a session from the event bus and nothing else). Held weakly: the service keeps it.
_ciphers: weakref.WeakValueDictionary[str, PiiCipher] = weakref.WeakValueDictionary()


def attach(engine: sa.Engine, cipher: PiiCipher) -> None:
    """Seals the personal fields of `engine`'s database with `cipher` (each service's bootstrap does, once)."""
    _ciphers[_key(engine)] = cipher


def attached(session: orm.Session | sa.Connection) -> PiiCipher:
    """The cipher of the session's database; RuntimeError when its service attached none (never plain text)."""
    bind = session.get_bind() if isinstance(session, orm.Session) else session
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    cipher = _ciphers.get(_key(engine))
    if cipher is None:
        raise RuntimeError(f"no PII cipher is attached to {engine.url!r}: the service must call pii.attach")
    return cipher


def optional(session: orm.Session | sa.Connection) -> PiiCipher | None:
    """The cipher of the session's database, if its service seals personal fields."""
    try:
        return attached(session)
    except RuntimeError:
        return None


def local(var_dir: Path, service: str) -> PiiCipher:
    """A cipher on a var folder's keyring file and key store (development and tests)."""
    keyring = var_dir / KEYRING_FILE
    ensure_file(keyring)
    return PiiCipher(SubjectKeys.open(keystore_url(var_dir, service), KeyringSource(path=keyring)))


def _key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)
