"""The upskilling connector's personal fields at rest: a learner's e-mail, provider id and names, and what
is recorded about them (a progress record's metadata, a credential's url and verification code), sealed
with that learner's data key; a quarantined CSV row with the key of every person it names
(services/kit/connectors/imports.py). The subject is the learner's `profile_id` (derived from company and
e-mail, as every service derives it, so erasing the person by e-mail or profile id shreds the key); a
learner known only by their provider id has a key of their own, `xid:<blind index of that id>`.

Identities never hold a plain e-mail or provider id: the unique `learner_key` is `pid:<profile id>` or
`xid:<blind index>`, a credential's `credential_key` names its holder the same way, and `external_index`
holds the blind index of the provider id for look-ups. Rows written before sealing keep `email:<e-mail>`
and `external:<id>` keys and plain values until the online migration (`seal_batch`) rewrites them;
look-ups accept both forms meanwhile (services/kit/connectors/sealing.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors.imports import QUARANTINE
from services.kit.connectors.sealing import BATCH, Row, SealedTable
from services.kit.connectors.storage import profile_id_of
from services.kit.security.pii import PiiCipher
from services.upskilling.tables import credentials, progress

# The kind of blind index a provider's user id has.
EXTERNAL = "external_id"
LEARNER = ("email", "external_id", "given_name", "family_name")
# Identity prefixes: plain ones (written before sealing) and their sealed-era replacements.
_PLAIN = {"email": "pid", "external": "xid"}


def learner_subject(session: orm.Session, row: Row) -> str:
    """Whose key seals a learner's columns: their profile id, else their provider id's blind index."""
    return str(row.get("profile_id") or "") or f"xid:{row.get('external_index') or ''}"


PROGRESS = SealedTable(progress, "progress_id", writers=dict.fromkeys((*LEARNER, "metadata_json"), learner_subject))
CREDENTIALS = SealedTable(
    credentials,
    "credential_id",
    writers=dict.fromkeys((*LEARNER, "url", "verification_code"), learner_subject),
)
TABLES = (PROGRESS, CREDENTIALS)
# What a learner's row holds besides the sealed columns that sealing writes: the identities.
_IDENTITY = {"upskilling_progress": "learner_key", "upskilling_credentials": "credential_key"}


def external_index(cipher: PiiCipher, company_id: str, external_id: str) -> str:
    """The blind index of a provider's user id ('' without one)."""
    return cipher.blind(company_id, EXTERNAL, external_id) if external_id else ""


def learner_key(cipher: PiiCipher, company_id: str, key: str) -> str:
    """The stored form of a learner key: `email:<e-mail>` → `pid:<profile id>`, `external:<id>` →
    `xid:<blind index>`; a key already in its stored form is returned as it is."""
    kind, _, value = key.partition(":")
    if kind == "email":
        return f"pid:{profile_id_of(company_id, value)}"
    if kind == "external":
        return f"xid:{external_index(cipher, company_id, value)}"
    return key


def credential_key(cipher: PiiCipher, company_id: str, key: str, course_id: str) -> str:
    """The stored form of a credential key: the provider's credential id as it is, or the course, the
    holder's stored learner key and the type."""
    head = f"course:{course_id}|"
    if not key.startswith(head):
        return key
    holder, sep, kind = key[len(head) :].rpartition("|")
    return f"{head}{learner_key(cipher, company_id, holder)}{sep}{kind}"


def stored(cipher: PiiCipher, table: sa.Table, row: Row) -> dict[str, Any]:
    """A plain row with its identities in stored form: profile id (from the e-mail), the provider id's
    blind index, and the learner or credential key without a plain e-mail or id."""
    company, out = row["company_id"], dict(row)
    out["profile_id"] = profile_id_of(company, row["email"]) if row["email"] else ""
    out["external_index"] = external_index(cipher, company, row["external_id"])
    if table is progress:
        out["learner_key"] = learner_key(cipher, company, row["learner_key"])
    else:
        out["credential_key"] = credential_key(cipher, company, row["credential_key"], row["course_id"])
    return out


def _plain_key(key: str, row: Row) -> str:
    """A stored learner key back in its plain form, from the opened row."""
    kind, _, _ = key.partition(":")
    if kind == "pid":
        return f"email:{row['email']}"
    if kind == "xid":
        return f"external:{row['external_id']}"
    return key


def plain(table: sa.Table, row: Row) -> dict[str, Any]:
    """An opened row with its identities back in their plain form (the rollback of sealing)."""
    out = dict(row)
    if table is progress:
        out["learner_key"] = _plain_key(row["learner_key"], row)
        return out
    head = f"course:{row['course_id']}|"
    if row["credential_key"].startswith(head):
        holder, sep, kind = row["credential_key"][len(head) :].rpartition("|")
        out["credential_key"] = f"{head}{_plain_key(holder, row)}{sep}{kind}"
    return out


def _keyed(table: sa.Table, kinds: Sequence[str]) -> sa.ColumnElement[bool]:
    """Rows whose identity is keyed by one of these kinds of learner key."""
    if table is progress:
        return sa.or_(*(progress.c.learner_key.like(f"{k}:%") for k in kinds))
    return sa.or_(*(credentials.c.credential_key.like(f"course:%|{k}:%") for k in kinds))


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still holding plain values or plain identities (progress, credentials,
    then quarantined rows); the number sealed."""
    done = 0
    for sealed in TABLES:
        where = sa.or_(sealed.plain(), _keyed(sealed.table, list(_PLAIN)))
        found = _select(session, sealed.table, where, batch - done)
        ready = [stored(cipher, sealed.table, sealed.open(cipher, row)) for row in found]
        _write(session, sealed, sealed.seal_rows(session, cipher, ready), ("profile_id", "external_index"))
        done += len(found)
        if done >= batch:
            return done
    return done + QUARANTINE.seal_batch(session, cipher, batch=batch - done)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text, their identities in plain form (the rollback of
    sealing; profile ids and blind indexes stay); the number changed."""
    done = 0
    for sealed in TABLES:
        where = sa.or_(sealed.sealed(), _keyed(sealed.table, list(_PLAIN.values())))
        found = _select(session, sealed.table, where, batch - done)
        _write(session, sealed, [plain(sealed.table, sealed.open(cipher, row)) for row in found], ())
        done += len(found)
        if done >= batch:
            return done
    return done + QUARANTINE.unseal_batch(session, cipher, batch=batch - done)


def _select(session: orm.Session, table: sa.Table, where: sa.ColumnElement[bool], limit: int) -> Sequence[Row]:
    return session.execute(sa.select(table).where(where).limit(limit)).mappings().all()


def _write(session: orm.Session, sealed: SealedTable, found: Sequence[Row], extra: tuple[str, ...]) -> None:
    key, columns = sealed.table.c[sealed.record], (*sealed.columns, _IDENTITY[sealed.table.name], *extra)
    for row in found:
        session.execute(sealed.table.update().where(key == row[sealed.record]).values(**{c: row[c] for c in columns}))
