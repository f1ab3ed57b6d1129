"""The profile service's personal fields at rest: which are sealed, with which subject's key, bound to
which record; the blind indexes look-ups compare; and the online migration that seals rows written
before sealing (and unseals them, to roll back).

A profile's e-mail and names are sealed with the data key of the profile itself (subject = profile id,
so erasure shreds exactly that key), bound to `profiles.<column>` and the profile id. An external
identity's id is sealed into `external_ref` with its owner's key, bound to the row's blind index,
which is what `external_id` holds (the primary key look-ups and uniqueness compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.security.pii import EMAIL, PiiCipher
from services.profile.domain.model import ExternalId, Profile, Provider
from services.profile.tables import external_ids, profiles

SEALED_COLUMNS = ("email", "given_name", "family_name")
Row = sa.RowMapping | Mapping[str, Any]
BATCH = 500


def email_index(cipher: PiiCipher, company_id: str, email: str) -> str:
    """The blind index of a normalised e-mail in a company."""
    return cipher.blind(company_id, EMAIL, email)


def external_index(cipher: PiiCipher, company_id: str, external: ExternalId) -> str:
    """The blind index of a source's id for a person, per provider."""
    return cipher.blind(company_id, f"external:{external.provider.value}", external.external_id)


def profile_fields(cipher: PiiCipher, profile: Profile) -> dict[str, str]:
    """The stored (sealed) e-mail and names of a profile, with the e-mail's blind index."""
    plain = {"email": profile.email, "given_name": profile.given_name, "family_name": profile.family_name}
    sealed = {column: _seal(cipher, profile.company_id, profile.profile_id, column, v) for column, v in plain.items()}
    return {**sealed, "email_index": email_index(cipher, profile.company_id, profile.email)}


def opened_profile(cipher: PiiCipher, row: Row) -> dict[str, Any]:
    """The row with its sealed fields opened (plain ones, from before sealing, as they are)."""
    record = row["profile_id"]
    return {**dict(row), **{c: cipher.open(row[c], field=f"profiles.{c}", record=record) for c in SEALED_COLUMNS}}


def external_fields(cipher: PiiCipher, company_id: str, owner: str, external: ExternalId) -> dict[str, str]:
    """The stored form of an external identity owned by the profile `owner`."""
    index = external_index(cipher, company_id, external)
    sealed = cipher.seal(
        external.external_id, company_id=company_id, subject=owner, field=_EXTERNAL_FIELD, record=index
    )
    return {"external_id": index, "external_ref": sealed}


def opened_external(cipher: PiiCipher, row: Row) -> ExternalId:
    """The external identity of a row (sealed, or plain from before sealing)."""
    sealed = row.get("external_ref")
    value = (
        row["external_id"] if sealed is None else cipher.open(sealed, field=_EXTERNAL_FIELD, record=row["external_id"])
    )
    return ExternalId(Provider(row["provider"]), value)


def reseal_externals(session: orm.Session, cipher: PiiCipher, company_id: str, owner: str) -> None:
    """Seals again with the owner's key the identities just moved to it (a merge moves them)."""
    rows = session.execute(
        sa.select(external_ids).where(
            external_ids.c.company_id == company_id,
            external_ids.c.profile_id == owner,
            external_ids.c.external_ref.is_not(None),
        )
    ).mappings().all()  # fmt: skip
    for row in rows:
        identity = opened_external(cipher, row)
        again = external_fields(cipher, company_id, owner, identity)
        session.execute(external_ids.update().where(*_external_key(row)).values(external_ref=again["external_ref"]))


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (profiles, then external identities); the number sealed."""
    plain = session.execute(sa.select(profiles).where(profiles.c.email_index.is_(None)).limit(batch)).mappings().all()
    for row in plain:
        fields = {c: _seal(cipher, row["company_id"], row["profile_id"], c, row[c]) for c in SEALED_COLUMNS}
        index = email_index(cipher, row["company_id"], row["email"])
        where = (profiles.c.profile_id == row["profile_id"], profiles.c.email_index.is_(None))
        session.execute(profiles.update().where(*where).values(**fields, email_index=index))
    left = batch - len(plain)
    if left <= 0:
        return len(plain)
    identities = session.execute(
        sa.select(external_ids).where(external_ids.c.external_ref.is_(None)).limit(left)
    ).mappings().all()  # fmt: skip
    for row in identities:
        identity = ExternalId(Provider(row["provider"]), row["external_id"])
        fields = external_fields(cipher, row["company_id"], row["profile_id"], identity)
        session.execute(external_ids.update().where(*_external_key(row)).values(**fields))
    return len(plain) + len(identities)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed."""
    sealed = session.execute(
        sa.select(profiles).where(profiles.c.email_index.is_not(None)).limit(batch)
    ).mappings().all()  # fmt: skip
    for row in sealed:
        plain = {c: v for c, v in opened_profile(cipher, row).items() if c in SEALED_COLUMNS}
        session.execute(
            profiles.update().where(profiles.c.profile_id == row["profile_id"]).values(**plain, email_index=None)
        )
    left = batch - len(sealed)
    if left <= 0:
        return len(sealed)
    identities = session.execute(
        sa.select(external_ids).where(external_ids.c.external_ref.is_not(None)).limit(left)
    ).mappings().all()  # fmt: skip
    for row in identities:
        identity = opened_external(cipher, row)
        session.execute(
            external_ids.update().where(*_external_key(row)).values(external_id=identity.external_id, external_ref=None)
        )
    return len(sealed) + len(identities)


_EXTERNAL_FIELD = "profile_external_ids.external_ref"


def _seal(cipher: PiiCipher, company_id: str, profile_id: str, column: str, value: str) -> str:
    return cipher.seal(value, company_id=company_id, subject=profile_id, field=f"profiles.{column}", record=profile_id)


def _external_key(row: Row) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        external_ids.c.company_id == row["company_id"],
        external_ids.c.provider == row["provider"],
        external_ids.c.external_id == row["external_id"],
    )
