"""Per-person data keys: one random AES-256 key per (company, subject) and service, stored wrapped by a
KEK of the keyring, in a key store kept apart from the service's database.

The key store is not part of data backups (`teei backup` copies the service databases, never
`var/keystore/`): destroying a person's data key (`shred`) makes every copy of their encrypted fields
unreadable — in the live database, in every backup, in every replica. SQLite key stores run with
`secure_delete` and checkpoint their write-ahead log after a shred, so the destroyed key is not left
in free pages either.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event

from services.kit.clock import Clock, utc_now
from services.kit.logs import get_logger
from services.kit.persistence import db
from services.kit.persistence.types import UtcDateTime
from services.kit.security.pii.keyring import KEY_BYTES, KeyringSource

log = get_logger(__name__)
KEYSTORE_DIR = "keystore"
# Unwrapped data keys kept in memory: the hot subjects' keys, so a read opens no key store.
CACHE_SIZE = 4096

metadata = sa.MetaData()
subject_keys = sa.Table(
    "pii_subject_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("kek_id", sa.String(64), nullable=False, index=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "subject", name="uq_pii_subject_keys_subject"),
)


@dataclass(frozen=True)
class DataKey:
    """A person's data key, by the id stored beside every field it sealed."""

    key_id: str
    key: bytes

    @cached_property
    def aead(self) -> AESGCM:
        """The AES-256-GCM cipher of this key (built once per cached key)."""
        return AESGCM(self.key)


def keystore_url(var_dir: Path, service: str, configured: str | None = None) -> str:
    """The service's key store: `TEEI_PII_KEYSTORE_URL` (`{service}` replaced) or `var/keystore/<service>.db`."""
    if configured:
        return configured.replace("{service}", service)
    return db.sqlite_url(var_dir / KEYSTORE_DIR / f"{service}.db")


class SubjectKeys:
    """The data keys of one service's subjects: created on first use, cached unwrapped, destroyed on erasure."""

    def __init__(self, engine: sa.Engine, keyring: KeyringSource, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._reader = db.read_only(engine)
        self._keyring = keyring
        self._clock = clock
        self._lock = threading.Lock()
        self._by_subject: OrderedDict[tuple[str, str], DataKey] = OrderedDict()
        self._by_id: OrderedDict[str, DataKey | None] = OrderedDict()

    @classmethod
    def open(cls, url: str, keyring: KeyringSource) -> SubjectKeys:
        """The key store at `url`, its table created if missing."""
        engine = db.create_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _secure_delete)
        try:
            metadata.create_all(engine)
        except sa.exc.DatabaseError:  # another process (a shared key store) created it at the same moment
            metadata.create_all(engine)
        return cls(engine, keyring)

    @property
    def keyring(self) -> KeyringSource:
        """Where the KEKs and the index key come from."""
        return self._keyring

    def key_for(self, company_id: str, subject: str) -> DataKey:
        """The subject's data key, created (and stored wrapped) the first time the subject is sealed."""
        cached = self._cached(self._by_subject, (company_id, subject))
        if cached is not None:
            return cached
        found = self._load(subject_keys.c.company_id == company_id, subject_keys.c.subject == subject)
        if found is None:
            self._create(company_id, subject)
            found = self._load(subject_keys.c.company_id == company_id, subject_keys.c.subject == subject)
        if found is None:  # the key was shredded between its creation and this read
            raise KeyError(f"the data key of a subject of {company_id} was destroyed while in use")
        return found

    def keys_for(self, company_id: str, subjects: Iterable[str]) -> dict[str, DataKey]:
        """The data keys of many subjects of a company (an import's), the missing ones created in one
        transaction rather than one each."""
        wanted = set(subjects)
        found = {s: k for s in wanted if (k := self._cached(self._by_subject, (company_id, s))) is not None}
        found |= self._load_many(company_id, wanted - found.keys())
        missing = wanted - found.keys()
        if missing:
            self._create_many(company_id, missing)
            found |= self._load_many(company_id, missing)
        if len(found) < len(wanted):  # shredded between creation and read, as in key_for
            raise KeyError(f"the data key of a subject of {company_id} was destroyed while in use")
        return found

    def key_by_id(self, key_id: str) -> DataKey | None:
        """The data key with this id; None when it was destroyed (the subject was erased)."""
        with self._lock:
            if key_id in self._by_id:
                self._by_id.move_to_end(key_id)
                return self._by_id[key_id]
        found = self._load(subject_keys.c.key_id == key_id)
        if found is None:
            self._remember_missing(key_id)
        return found

    def preload(self, key_ids: Iterable[str]) -> None:
        """Reads the data keys with these ids that are not cached, in one query per 500, so that opening the
        rows of one page or chunk costs no query per key (ids no key has are remembered as destroyed, as
        `key_by_id` does). The caller keeps a call to what the cache holds (CACHE_SIZE)."""
        with self._lock:
            wanted = sorted({k for k in key_ids if k not in self._by_id})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            with self._reader.connect() as connection:
                rows = connection.execute(sa.select(subject_keys).where(subject_keys.c.key_id.in_(chunk))).mappings()
                found = {row["key_id"]: (row["company_id"], row["subject"], self._unwrap(row)) for row in rows}
            with self._lock:
                for key_id in chunk:
                    if key_id not in found:
                        _put(self._by_id, key_id, None)
                        continue
                    company_id, subject, raw = found[key_id]
                    key = DataKey(key_id, raw)
                    _put(self._by_subject, (company_id, subject), key)
                    _put(self._by_id, key_id, key)

    def shred(self, company_id: str, subject: str) -> int:
        """Destroys the subject's data key; every field it sealed is unreadable from now on, everywhere."""
        where = (subject_keys.c.company_id == company_id, subject_keys.c.subject == subject)
        with self._engine.begin() as connection:
            ids = list(connection.execute(sa.select(subject_keys.c.key_id).where(*where)).scalars())
            connection.execute(subject_keys.delete().where(*where))
        with self._lock:
            self._by_subject.pop((company_id, subject), None)
            for key_id in ids:
                self._by_id[key_id] = None
        if ids and self._engine.dialect.name == "sqlite":
            self._checkpoint()
        log.info("pii.subject_key_shredded", company_id=company_id, keys=len(ids))
        return len(ids)

    def _checkpoint(self) -> None:
        """Moves the write-ahead log into the file and empties it (outside any transaction: SQLite refuses
        a checkpoint inside one), so the destroyed key's page images leave the log too."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()

    def rewrap(self, *, batch: int = 500) -> int:
        """Re-wraps up to `batch` data keys still wrapped by an older KEK with the active one; the
        number moved. A key whose row changed meanwhile (rewrapped elsewhere, shredded) is left."""
        keyring = self._keyring.current()
        with self._reader.connect() as connection:
            stale = connection.execute(
                sa.select(subject_keys).where(subject_keys.c.kek_id != keyring.active).limit(batch)
            ).mappings().all()  # fmt: skip
        moved = 0
        for row in stale:
            context = _context(row)
            key = keyring.unwrap(row["kek_id"], row["wrapped"], context)
            kek_id, wrapped = keyring.wrap(key, context)
            where = (subject_keys.c.key_id == row["key_id"], subject_keys.c.kek_id == row["kek_id"])
            with self._engine.begin() as connection:
                moved += connection.execute(
                    subject_keys.update().where(*where).values(kek_id=kek_id, wrapped=wrapped)
                ).rowcount  # fmt: skip
        if moved:
            log.info("pii.data_keys_rewrapped", moved=moved, active=keyring.active)
        return moved

    def usage(self) -> dict[str, int]:
        """How many data keys each KEK wraps."""
        query = sa.select(subject_keys.c.kek_id, sa.func.count()).group_by(subject_keys.c.kek_id)
        with self._reader.connect() as connection:
            return {kek_id: int(n) for kek_id, n in connection.execute(query)}

    def dispose(self) -> None:
        """Closes the key store's connections."""
        self._engine.dispose()

    def _create(self, company_id: str, subject: str) -> None:
        key_id = secrets.token_hex(16)
        row: dict[str, Any] = {"key_id": key_id, "company_id": company_id, "subject": subject}
        kek_id, wrapped = self._keyring.current().wrap(secrets.token_bytes(KEY_BYTES), _context(row))
        values = {**row, "kek_id": kek_id, "wrapped": wrapped, "created_at": self._clock()}
        try:
            with self._engine.begin() as connection:
                connection.execute(subject_keys.insert().values(**values))
        except sa.exc.IntegrityError:
            pass  # another process created the subject's key first: theirs is read back

    def _create_many(self, company_id: str, subjects: set[str]) -> None:
        keyring, now, values = self._keyring.current(), self._clock(), []
        for subject in subjects:
            row: dict[str, Any] = {"key_id": secrets.token_hex(16), "company_id": company_id, "subject": subject}
            kek_id, wrapped = keyring.wrap(secrets.token_bytes(KEY_BYTES), _context(row))
            values.append({**row, "kek_id": kek_id, "wrapped": wrapped, "created_at": now})
        try:
            with self._engine.begin() as connection:
                connection.execute(subject_keys.insert(), values)
        except sa.exc.IntegrityError:  # another process created some of them first: one by one, theirs kept
            for subject in subjects:
                self._create(company_id, subject)

    def _load_many(self, company_id: str, subjects: set[str]) -> dict[str, DataKey]:
        found: dict[str, DataKey] = {}
        ordered = sorted(subjects)
        for start in range(0, len(ordered), 500):
            where = (subject_keys.c.company_id == company_id, subject_keys.c.subject.in_(ordered[start : start + 500]))
            with self._reader.connect() as connection:
                rows = connection.execute(sa.select(subject_keys).where(*where)).mappings().all()
            for row in rows:
                found[row["subject"]] = key = DataKey(row["key_id"], self._unwrap(row))
                with self._lock:
                    _put(self._by_subject, (company_id, row["subject"]), key)
                    _put(self._by_id, key.key_id, key)
        return found

    def _load(self, *where: sa.ColumnElement[bool]) -> DataKey | None:
        with self._reader.connect() as connection:
            row = connection.execute(sa.select(subject_keys).where(*where)).mappings().first()
        if row is None:
            return None
        found = DataKey(row["key_id"], self._unwrap(row))
        with self._lock:
            _put(self._by_subject, (row["company_id"], row["subject"]), found)
            _put(self._by_id, found.key_id, found)
        return found

    def _unwrap(self, row: sa.RowMapping) -> bytes:
        keyring = self._keyring.current()
        if row["kek_id"] not in keyring.keks:
            keyring = self._keyring.reload()  # rotated by another process moments ago
        return keyring.unwrap(row["kek_id"], row["wrapped"], _context(row))

    def _cached(self, cache: OrderedDict[tuple[str, str], DataKey], key: tuple[str, str]) -> DataKey | None:
        with self._lock:
            found = cache.get(key)
            if found is not None:
                cache.move_to_end(key)
            return found

    def _remember_missing(self, key_id: str) -> None:
        with self._lock:
            _put(self._by_id, key_id, None)


def _context(row: Any) -> bytes:
    """What a wrapped key is bound to: its id, company and subject (a wrapping moved onto another
    subject's row does not open)."""
    return "\x1f".join((row["key_id"], row["company_id"], row["subject"])).encode()


def _put(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


def _secure_delete(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
