"""Personal fields sealed at rest (envelope encryption) and looked up by keyed blind indexes.

A sealed field reads `pii1.<key id>.<base64url(nonce ‖ AES-256-GCM ciphertext)>`: the key id names the
subject's data key, so any reader (a query, an export) opens it without knowing whose it is; the field
name and the record's id are the associated data, so a sealed value copied onto another field or row
does not open. A value without the prefix is plain text written before encryption was switched on:
it is read as it is (dual read while the online migration seals old rows) and never written again.

A value naming several people (a quarantined CSV row) is sealed with each one's key in turn: every layer
is an ordinary sealed field holding the next, so opening needs every key and erasing any one of them
erases the value; a value sealed with one key is the one-layer case and opens the same way.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag

from services.kit.security.pii.keyring import NONCE_BYTES
from services.kit.security.pii.keystore import DataKey, SubjectKeys

PREFIX = "pii1."
# Data keys by subject, of one company.
Keys = Mapping[str, DataKey]
# Nonces drawn from the OS per call for this many seals.
NONCE_BLOCK = 256


class _Nonces(threading.local):
    """Fresh random nonces, read from the OS in blocks: one call per NONCE_BLOCK seals rather than one per
    seal (a quarter of a seal's time when a CSV import seals tens of thousands of values). Per thread, so
    no lock; a forked child drops its parent's unused block, so no two processes hand out the same nonce."""

    def __init__(self) -> None:
        self.block, self.at = b"", 0

    def take(self) -> bytes:
        at = self.at
        if at >= len(self.block):
            self.block, at = secrets.token_bytes(NONCE_BYTES * NONCE_BLOCK), 0
        self.at = at + NONCE_BYTES
        return self.block[at : at + NONCE_BYTES]

    def drop(self) -> None:
        self.block, self.at = b"", 0


_nonces = _Nonces()
os.register_at_fork(after_in_child=_nonces.drop)


class SubjectErased(Exception):
    """The field's data key was destroyed: its subject was erased, and the value is gone for good."""


class FieldTampered(Exception):
    """A sealed field does not open with its own key: edited, or moved onto another field or record."""


def is_sealed(value: str | None) -> bool:
    """Whether a stored value is a sealed field (rather than plain text from before encryption)."""
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


class PiiCipher:
    """Seals and opens one service's personal fields with its subjects' data keys."""

    def __init__(self, keys: SubjectKeys) -> None:
        self.keys = keys

    def seal(
        self, value: str, *, company_id: str, subject: str, field: str, record: str, keys: Keys | None = None
    ) -> str:
        """The value sealed with the subject's data key (from `keys`, when the caller fetched many at once:
        SubjectKeys.keys_for); the empty string stays empty (nothing to hide)."""
        if not value:
            return value
        data_key = keys[subject] if keys is not None else self.keys.key_for(company_id, subject)
        nonce = _nonces.take()
        sealed = data_key.aead.encrypt(nonce, value.encode(), _context(field, record))
        return f"{PREFIX}{data_key.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def seal_layered(
        self,
        value: str,
        *,
        company_id: str,
        subjects: Sequence[str],
        field: str,
        record: str,
        keys: Keys | None = None,
    ) -> str:
        """The value sealed with each subject's data key in turn (the first innermost): it opens only while
        every one of them is kept. For values whose plain text never starts with the prefix (JSON)."""
        for subject in subjects:
            value = self.seal(value, company_id=company_id, subject=subject, field=field, record=record, keys=keys)
        return value

    def open_layered(self, stored: str, *, field: str, record: str) -> str:
        """The plain value of a field sealed by `seal_layered` (or once, by `seal`); SubjectErased when any
        of its keys is gone."""
        while is_sealed(stored):
            stored = self.open(stored, field=field, record=record)
        return stored

    def open(self, stored: str, *, field: str, record: str) -> str:
        """The plain value of a stored field (plain text passes through); SubjectErased when its key is gone."""
        if not is_sealed(stored):
            return stored
        key_id, _, body = stored[len(PREFIX) :].partition(".")
        data_key = self.keys.key_by_id(key_id)
        if data_key is None:
            raise SubjectErased(f"the data key of this {field} was destroyed (its subject was erased)")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return data_key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(field, record)).decode()
        except InvalidTag as exc:
            raise FieldTampered(f"a sealed {field} of record {record} does not open") from exc

    def blind(self, company_id: str, kind: str, value: str) -> str:
        """The blind index of a value: what look-ups and unique constraints compare instead of the value."""
        return self.keys.keyring.current().blind(company_id, kind, value)

    def close(self) -> None:
        """Closes the key store's connections."""
        self.keys.dispose()

    def shred(self, company_id: str, subject: str) -> int:
        """Destroys the subject's data key (crypto-shredding); the number of keys destroyed."""
        return self.keys.shred(company_id, subject)


def _context(field: str, record: str) -> bytes:
    return f"{field}\x1f{record}".encode()
