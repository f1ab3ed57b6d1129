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

A machine client registered for a person keeps their e-mail (`oauth_clients.email`) sealed with that
person's key (subject = the profile id of company and e-mail), bound to the client id, and its blind
index in `email_index`, which the privacy map's export and erasure compare; erasure shreds the key and
blanks both (the client itself is kept).

SSO logins hold nothing of a person (the state's hash, nonce, PKCE verifier and an allow-listed redirect:
who signs in is known only once the provider answers, and the token issued is not stored), so there is
nothing of theirs to seal. Plain on purpose: a request's `requested_by` (the caller's token subject,
which the listing of one's own requests compares), its `reason` (the controller's reference) and each
section's SHA-256 (the manifest's digest of the plain section).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.gateway.tables import oauth_clients, privacy_requests, privacy_sections
from services.kit.identity import normalise_email, profile_id_for_email
from services.kit.security.pii import EMAIL, PiiCipher, SubjectErased
from services.kit.security.pii.cipher import PREFIX
from services.kit.security.pii.maintenance import in_turn

Row = sa.RowMapping | Mapping[str, Any]
BATCH = 500
EMAIL_FIELD = "privacy_requests.subject_email"
BODY_FIELD = "privacy_sections.body"
CLIENT_EMAIL_FIELD = "oauth_clients.email"
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


def client_fields(cipher: PiiCipher, row: Row) -> dict[str, Any]:
    """An `oauth_clients` row with its person's e-mail sealed with their key and its blind index."""
    email = row.get("email")
    if not email or email.startswith(PREFIX):
        return dict(row)
    company, normalised = row["company_id"], normalise_email(email)
    sealed = cipher.seal(
        email,
        company_id=company,
        subject=profile_id_for_email(company, normalised),
        field=CLIENT_EMAIL_FIELD,
        record=row["client_id"],
    )
    return {**dict(row), "email": sealed, "email_index": email_index(cipher, company, normalised)}


def opened_client(cipher: PiiCipher, row: Row) -> dict[str, Any]:
    """The row with its person's e-mail opened (plain, from before sealing, as it is); None once the person
    was erased and their key shredded."""
    email = row.get("email")
    if not email:
        return dict(row)
    try:
        return {**dict(row), "email": cipher.open(email, field=CLIENT_EMAIL_FIELD, record=row["client_id"])}
    except SubjectErased:
        return {**dict(row), "email": None}


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (requests, export sections, then clients); the number sealed."""
    steps = (_seal_requests, _seal_sections, _seal_clients)
    return in_turn(steps, lambda step, left: step(session, cipher, left), batch)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed.
    A value whose subject was erased meanwhile cannot come back: the request keeps an empty e-mail and the
    client none (as an erasure leaves them), the section is deleted (as an erasure does)."""
    steps = (_REQUEST_EMAILS.unseal, _unseal_sections, _CLIENT_EMAILS.unseal)
    return in_turn(steps, lambda step, left: step(session, cipher, left), batch)


def _seal_requests(session: orm.Session, cipher: PiiCipher, limit: int) -> int:
    found = session.execute(sa.select(privacy_requests).where(_plain_email()).limit(limit)).mappings().all()
    for row in found:
        fields = request_fields(cipher, row)
        values = {c: fields[c] for c in ("subject_email", "subject_email_index")}
        where = (privacy_requests.c.request_id == row["request_id"], _plain_email())
        session.execute(privacy_requests.update().where(*where).values(**values))
    return len(found)


def _seal_sections(session: orm.Session, cipher: PiiCipher, limit: int) -> int:
    found = session.execute(
        sa.select(privacy_sections, privacy_requests.c.company_id, privacy_requests.c.subject_profile_id)
        .join(privacy_requests, privacy_requests.c.request_id == privacy_sections.c.request_id)
        .where(sa.not_(_sealed_body()))
        .limit(limit)
    ).mappings().all()  # fmt: skip
    for row in found:
        body = sealed_body(
            cipher,
            company_id=row["company_id"],
            subject=row["subject_profile_id"],
            request_id=row["request_id"],
            service=row["service"],
            body=bytes(row["body"]),
        )
        session.execute(privacy_sections.update().where(*_section_key(row)).values(body=body))
    return len(found)


def _seal_clients(session: orm.Session, cipher: PiiCipher, limit: int) -> int:
    email = oauth_clients.c.email
    plain = sa.and_(email.is_not(None), email != "", sa.not_(email.like(f"{PREFIX}%")))
    found = session.execute(sa.select(oauth_clients).where(plain).limit(limit)).mappings().all()
    for row in found:
        fields = client_fields(cipher, row)
        session.execute(
            oauth_clients.update()
            .where(oauth_clients.c.client_id == row["client_id"])
            .values(email=fields["email"], email_index=fields["email_index"])
        )
    return len(found)


def _unseal_sections(session: orm.Session, cipher: PiiCipher, limit: int) -> int:
    found = session.execute(sa.select(privacy_sections).where(_sealed_body()).limit(limit)).mappings().all()
    for row in found:
        try:
            body = opened_body(cipher, row)
        except SubjectErased:
            session.execute(privacy_sections.delete().where(*_section_key(row)))
            continue
        session.execute(privacy_sections.update().where(*_section_key(row)).values(body=body))
    return len(found)


@dataclass(frozen=True)
class _SealedEmail:
    """A table's sealed e-mail column with its blind index, its row key, and how a row is read back in plain
    text: requests and clients roll back the same way, only `opened` differs in what an erased subject
    leaves (an empty e-mail for a request, none for a client)."""

    key: sa.Column[str]
    email: sa.Column[str]
    index: sa.Column[str]
    opened: Callable[[PiiCipher, Row], dict[str, Any]]

    def unseal(self, session: orm.Session, cipher: PiiCipher, limit: int) -> int:
        """Writes up to `limit` sealed e-mails back in plain text without their blind index; the number changed."""
        table, email = self.email.table, self.email
        found = session.execute(sa.select(table).where(email.like(f"{PREFIX}%")).limit(limit)).mappings().all()
        for row in found:
            plain = self.opened(cipher, row)[email.name]
            where = self.key == row[self.key.name]
            session.execute(table.update().where(where).values({email: plain, self.index: None}))
        return len(found)


_REQUEST_EMAILS = _SealedEmail(
    privacy_requests.c.request_id,
    privacy_requests.c.subject_email,
    privacy_requests.c.subject_email_index,
    opened_request,
)
_CLIENT_EMAILS = _SealedEmail(
    oauth_clients.c.client_id, oauth_clients.c.email, oauth_clients.c.email_index, opened_client
)


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
