"""The PII keyring: the key-encryption keys (KEKs) that wrap every person's data key, and the secret of
the blind indexes.

The keyring is one JSON document, from `TEEI_PII_KEYRING` (or `_FILE`) in production, or generated
once into `var/pii-keyring.json` (mode 0600) in development:

    {"version": 1, "active": "<kek id>", "index_key": "<base64 32 bytes>",
     "keys": [{"id": "<kek id>", "key": "<base64 32 bytes>", "created": "<ISO time>"}, ...]}

`rotate` adds a KEK and makes it the active one; older KEKs stay, so every data key wrapped by them
still opens, until the re-wrap task (`SubjectKeys.rewrap`) has moved every data key to the active KEK
and `retire` removes them. The index key is never rotated: the blind indexes would have to be rebuilt.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kit.logs import get_logger
from services.kit.security import generated

log = get_logger(__name__)
KEYRING_FILE = "pii-keyring.json"
KEY_BYTES = 32
NONCE_BYTES = 12
# A process looks at the keyring file at most this often for a rotation made by another process.
RELOAD_SECONDS = 1.0


class KeyringError(Exception):
    """The keyring is malformed, or a data key cannot be opened with it."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise KeyringError(f"{what} is not base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{what} must encode {KEY_BYTES} bytes")
    return raw


@dataclass(frozen=True)
class Keyring:
    """The KEKs by id, the active one, and the blind-index secret."""

    active: str
    keks: Mapping[str, bytes]
    index_key: bytes
    created: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.active not in self.keks:
            raise KeyringError(f"the active key {self.active!r} is not in the keyring")

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """The data key sealed by the active KEK (nonce ‖ ciphertext), `context` bound as associated data."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return self.active, nonce + AESGCM(self.keks[self.active]).encrypt(nonce, data_key, context)

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The data key; KeyringError when its KEK is not in the keyring or the wrapping was altered."""
        kek = self.keks.get(kek_id)
        if kek is None:
            raise KeyringError(f"the key-encryption key {kek_id!r} is not in the keyring (retired too early?)")
        try:
            return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise KeyringError(f"a data key wrapped by {kek_id!r} does not open: altered or misplaced") from exc

    def blind(self, company_id: str, kind: str, value: str) -> str:
        """The keyed blind index of a value (HMAC-SHA256 per company and kind): equal values match,
        and nobody without the index key can test a guess."""
        message = "\x1f".join((company_id, kind, value)).encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()

    def document(self) -> dict[str, Any]:
        """The keyring as its JSON document."""
        return {
            "version": 1,
            "active": self.active,
            "index_key": _b64(self.index_key),
            "keys": [{"id": k, "key": _b64(v), "created": self.created.get(k, "")} for k, v in self.keks.items()],
        }


def parse(text: str) -> Keyring:
    """The keyring in a JSON document; KeyringError saying what is wrong."""
    try:
        document = json.loads(text)
        keys = {str(k["id"]): _unb64(str(k["key"]), f"key {k['id']}") for k in document["keys"]}
        created = {str(k["id"]): str(k.get("created", "")) for k in document["keys"]}
        return Keyring(str(document["active"]), keys, _unb64(str(document["index_key"]), "index_key"), created)
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"the PII keyring is malformed: {exc}") from exc


def new_keyring() -> Keyring:
    """A keyring with one fresh KEK and a fresh index key."""
    kek_id = _new_kek_id()
    return Keyring(kek_id, {kek_id: secrets.token_bytes(KEY_BYTES)}, secrets.token_bytes(KEY_BYTES), {kek_id: _now()})


def rotate(path: Path) -> str:
    """Adds a fresh KEK to the keyring file and makes it active; the id of the new KEK."""
    with _locked(path):
        current = parse(path.read_text())
        kek_id = _new_kek_id()
        keks = {**current.keks, kek_id: secrets.token_bytes(KEY_BYTES)}
        _write(path, Keyring(kek_id, keks, current.index_key, {**current.created, kek_id: _now()}))
    log.info("pii.keyring_rotated", active=kek_id, keys=len(keks))
    return kek_id


def retire(path: Path, kek_id: str) -> None:
    """Removes a KEK that no data key uses any more (the caller checks usage first); never the active one."""
    with _locked(path):
        current = parse(path.read_text())
        if kek_id == current.active:
            raise KeyringError(f"{kek_id} is the active key; rotate before retiring it")
        if kek_id not in current.keks:
            raise KeyringError(f"{kek_id} is not in the keyring")
        keks = {k: v for k, v in current.keks.items() if k != kek_id}
        _write(path, Keyring(current.active, keks, current.index_key, current.created))
    log.info("pii.keyring_retired", retired=kek_id)


def ensure_file(path: Path) -> None:
    """Creates the keyring file (0600) with a fresh keyring unless it exists; safe against a race."""
    generated.secret_file(
        path,
        make=lambda: json.dumps(new_keyring().document(), indent=2) + "\n",
        event="pii.keyring_generated",
        hint="set TEEI_PII_KEYRING or TEEI_PII_KEYRING_PATH in production",
    )


class KeyringSource:
    """The current keyring: a fixed document, or a file re-read when it changes (a rotation made by
    `teei keys rotate --purpose pii` reaches running services within RELOAD_SECONDS)."""

    def __init__(self, *, path: Path | None = None, text: str | None = None) -> None:
        if (path is None) == (text is None):
            raise ValueError("a keyring source is a file or a document")
        self._path = path
        self._lock = threading.Lock()
        self._keyring = parse(text) if text is not None else self._read()
        self._checked = time.monotonic()
        self._stamp = self._stat()

    @property
    def path(self) -> Path | None:
        """The keyring file, when the keyring comes from one."""
        return self._path

    def current(self) -> Keyring:
        """The keyring, re-read if its file changed since it was last looked at."""
        if self._path is not None and time.monotonic() - self._checked >= RELOAD_SECONDS:
            self.reload()
        return self._keyring

    def reload(self) -> Keyring:
        """Re-reads the file now if it changed."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp != self._stamp:
                self._keyring, self._stamp = self._read(), stamp
        return self._keyring

    def _read(self) -> Keyring:
        assert self._path is not None
        return parse(self._path.read_text())

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        status = self._path.stat()
        return status.st_mtime_ns, status.st_ino


def _new_kek_id() -> str:
    return f"pii-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialises changes to the keyring file between processes."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, keyring: Keyring) -> None:
    """Replaces the file atomically (a reader sees the old or the new keyring, never half of one)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(keyring.document(), indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
