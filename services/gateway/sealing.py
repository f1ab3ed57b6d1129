"""The gateway's personal fields at rest: which are sealed, with whose data key, bound to which record; the
blind index look-ups by e-mail compare; and the online migration that seals rows written before sealing
(and unseals them, to roll back).

A data-subject request's `subject_email` is sealed with the subject's own data key (subject = the
request's `subject_profile_id`, the id every service derives from company and e-mail), bound to
`privacy_requests.subject_email` and the request id; `subject_email_index` holds its blind index. Each
section of an export bundle (`privacy_sections.body`: one service's records about the person, as
canonical JSON) is sealed with the same key, bound to `privacy_sections.body` and the request id and
service. Erasing the person shreds that key in the gateway's key store: every copy of their requests'
e-mail and of their export bundles, in the live database and in every backup, is unreadable from then on.
The erasure request itself is kept as the proof it was answered, with the profile id and the blind index
of the e-mail, never the e-mail.

SSO logins hold nothing of a person (the state's hash, nonce, PKCE verifier and an allow-listed redirect:
who signs in is known only once the provider answers, and the token issued is not stored), so there is
nothing of theirs to seal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.gateway.tables import privacy_requests, privacy_sections
from services.kit.security.pii import EMAIL, PiiCipher, SubjectErased
from services.kit.security.pii.cipher import PREFIX

Row = sa.RowMapping | Mapping[str, Any]
BATCH = 500
EMAIL_FIELD = "privacy_requests.subject_email"
BODY_FIELD = "privacy_sections.body"
_SEALED_BODY = PREFIX.encode()


def email_index(cipher: PiiCipher, company_id: str, email: str) -> str | None:
    """The blind index of a subject's (normalised) e-mail in a company; None without an e-mail."""
    return cipher.blind(company_id, EMAIL, email) if email else None


def request_fields(cipher: PiiCipher, row: Row) -> dict[str, Any]:
    """A `privacy_requests` row with the subject's e-mail sealed with their key and its blind index."""
    email = row["subject_email"]
    if not email or email.startswith(PREFIX):
        return dict(row)
    sealed = cipher.seal(
        email,
        company_id=row["company_id"],
        subject=row["subject_profile_id"],
        field=EMAIL_FIELD,
        record=row["request_id"],
    )
    return {**dict(row), "subject_email": sealed, "subject_email_index": email_index(cipher, row["company_id"], email)}


def opened_request(cipher: PiiCipher, row: Row) -> dict[str, Any]:
    """The row with the subject's e-mail opened (plain, from before sealing, as it is); "" once the subject
    was erased and their key shredded (a copy of the database taken before the erasure reads so)."""
    try:
        email = cipher.open(row["subject_email"], field=EMAIL_FIELD, record=row["request_id"])
    except SubjectErased:
        email = ""
    return {**dict(row), "subject_email": email}


def sealed_body(
    cipher: PiiCipher, *, company_id: str, subject: str, request_id: str, service: str, body: bytes
) -> bytes:
    """An export section as stored: the canonical JSON sealed with the subject's key (ASCII bytes)."""
    text = body.decode("utf-8")  # canonical JSON (dsr/bundle.canonical) is UTF-8
    record = _section_record(request_id, service)
    return cipher.seal(text, company_id=company_id, subject=subject, field=BODY_FIELD, record=record).encode("ascii")


def opened_body(cipher: PiiCipher, row: Row) -> bytes:
    """The plain section of a stored one (plain, from before sealing, as it is); SubjectErased when the
    subject's key is gone."""
    stored = bytes(row["body"])
    if not stored.startswith(_SEALED_BODY):
        return stored
    record = _section_record(row["request_id"], row["service"])
    return cipher.open(stored.decode("ascii"), field=BODY_FIELD, record=record).encode("utf-8")


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (requests, then export sections); the number sealed."""
    requests = session.execute(
        sa.select(privacy_requests).where(_plain_email()).limit(batch)
    ).mappings().all()  # fmt: skip
    for row in requests:
        fields = request_fields(cipher, row)
        values = {c: fields[c] for c in ("subject_email", "subject_email_index")}
        where = (privacy_requests.c.request_id == row["request_id"], _plain_email())
        session.execute(privacy_requests.update().where(*where).values(**values))
    left = batch - len(requests)
    if left <= 0:
        return len(requests)
    sections = session.execute(
        sa.select(privacy_sections, privacy_requests.c.company_id, privacy_requests.c.subject_profile_id)
        .join(privacy_requests, privacy_requests.c.request_id == privacy_sections.c.request_id)
        .where(sa.not_(_sealed_body()))
        .limit(left)
    ).mappings().all()  # fmt: skip
    for row in sections:
        body = sealed_body(
            cipher,
            company_id=row["company_id"],
            subject=row["subject_profile_id"],
            request_id=row["request_id"],
            service=row["service"],
            body=bytes(row["body"]),
        )
        session.execute(privacy_sections.update().where(*_section_key(row)).values(body=body))
    return len(requests) + len(sections)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed.
    A value whose subject was erased meanwhile cannot come back: the request keeps an empty e-mail (as an
    erasure leaves it), the section is deleted (as an erasure does)."""
    requests = session.execute(
        sa.select(privacy_requests).where(privacy_requests.c.subject_email.like(f"{PREFIX}%")).limit(batch)
    ).mappings().all()  # fmt: skip
    for row in requests:
        plain = opened_request(cipher, row)["subject_email"]
        session.execute(
            privacy_requests.update()
            .where(privacy_requests.c.request_id == row["request_id"])
            .values(subject_email=plain, subject_email_index=None)
        )
    left = batch - len(requests)
    if left <= 0:
        return len(requests)
    sections = session.execute(sa.select(privacy_sections).where(_sealed_body()).limit(left)).mappings().all()
    for row in sections:
        try:
            body = opened_body(cipher, row)
        except SubjectErased:
            session.execute(privacy_sections.delete().where(*_section_key(row)))
            continue
        session.execute(privacy_sections.update().where(*_section_key(row)).values(body=body))
    return len(requests) + len(sections)


def _plain_email() -> sa.ColumnElement[bool]:
    column = privacy_requests.c.subject_email
    return sa.and_(column != "", sa.not_(column.like(f"{PREFIX}%")))


def _sealed_body() -> sa.ColumnElement[bool]:
    start = sa.func.substr(privacy_sections.c.body, 1, len(_SEALED_BODY), type_=sa.LargeBinary)
    return start == sa.literal(_SEALED_BODY, sa.LargeBinary)


def _section_key(row: Row) -> tuple[sa.ColumnElement[bool], ...]:
    return (privacy_sections.c.request_id == row["request_id"], privacy_sections.c.service == row["service"])


def _section_record(request_id: str, service: str) -> str:
    return f"{request_id}\x1f{service}"
