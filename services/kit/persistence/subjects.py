"""Export and erasure of everything one service holds about a data subject, from a declared map.

Each service declares, per table, the columns that name a person (`Person`: an e-mail and/or a profile
id column, and the columns that belong to that person) and the tables that hang off a row (`Child`).
Export reads every matching row of the subject's company, and in a row shared with another person
returns the other person's columns as `WITHHELD` (never opened): a copy of one person's data must not
carry another's (GDPR Art. 15(4)); a holding whose cells name several people inside one column (a
quarantined CSV row) says how to withhold them (`Holding.withhold`). Erasure deletes a row that names
only the subject and, in a row shared with another person (a session with a volunteer, a match with a buddy),
blanks the subject's columns and the text they wrote, so the other person's record survives without
the subject in it. Outbox envelopes and idempotency replays of the company that carry the subject's
e-mail or profile id are deleted too: neither may keep a copy after erasure.

Where a service seals personal fields (services/kit/security/pii), rows are matched by the e-mail's
blind index as well as the plain e-mail (rows not sealed yet), exported opened, and erasure destroys
the subject's data key first: whatever copy of their sealed fields survives anywhere (a backup, a
replica) is unreadable from then on, and a retried erasure finds the rows it did not delete yet.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.identity import normalise_email, profile_id_for_email
from services.kit.messaging.events import outbox
from services.kit.persistence import idempotency
from services.kit.security import pii

ERASED = ""
# What an export shows in place of a column (or a quarantined row's cell) holding another person's data.
WITHHELD = "withheld: another person"
# An opened row of a holding, cut down to what the subject may see of it (another person's cells withheld).
Withhold = Callable[[dict[str, Any], "Subject"], dict[str, Any]]


@dataclass(frozen=True)
class Subject:
    """A person of one company, by profile id and/or e-mail (at least one)."""

    company_id: str
    profile_id: str = ""
    email: str = ""

    @classmethod
    def of(cls, company_id: str, *, profile_id: str = "", email: str = "") -> Subject:
        """The subject, with the e-mail normalised and the profile id derived from it when not given."""
        email = normalise_email(email)
        if not profile_id.strip() and not email:
            raise ValueError("a data subject needs a profile id or an e-mail")
        return cls(company_id, profile_id.strip() or profile_id_for_email(company_id, email), email)

    def needles(self) -> list[bytes]:
        """The byte strings that name this subject inside stored blobs."""
        return [v.encode() for v in (self.email, self.profile_id) if v]


@dataclass(frozen=True)
class Person:
    """Columns of a table naming one person: matched on `email` or `profile_id`, erased with `owned`."""

    email: str | None = None
    profile_id: str | None = None
    owned: tuple[str, ...] = ()
    # The column holding the e-mail's blind index, where `email` is sealed.
    email_index: str | None = None

    def columns(self) -> tuple[str, ...]:
        """Every column that belongs to this person."""
        return tuple(c for c in (self.email, self.profile_id) if c) + self.owned


@dataclass(frozen=True)
class Sealed:
    """Columns of a table stored sealed, bound to the row's `record` column; `hidden` ones (blind
    indexes) mean nothing outside the service and are left out of exports."""

    columns: tuple[str, ...]
    record: str
    hidden: tuple[str, ...] = ()
    # A sealed column exported under another's name (the blind index's column names what it holds).
    exported_as: Mapping[str, str] = field(default_factory=dict)
    # Columns sealed with several people's keys in turn: one of whose people was erased exports as "".
    layered: tuple[str, ...] = ()


@dataclass(frozen=True)
class Child:
    """A table whose rows hang off a parent row: `column` holds the parent's key."""

    table: sa.Table
    column: str
    key: str
    children: tuple[Child, ...] = ()
    # With the parent kept (anonymised), child rows whose `by_column` names the erased person's role go.
    by_column: str | None = None
    # Exported with the parent, never deleted with it (shared with other people's rows; see `Orphans`).
    export_only: bool = False
    sealed: Sealed | None = None
    # The people a child row names: an export withholds the columns of those who are not the subject.
    persons: Mapping[str, Person] = field(default_factory=dict)
    # Columns written by the parent row's role that `by_column` names: withheld in an export unless the
    # subject holds that role in the parent row.
    role_owned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holding:
    """One table holding people: the persons it names, its key, the tables hanging off it."""

    table: sa.Table
    persons: Mapping[str, Person]
    key: str
    children: tuple[Child, ...] = ()
    company_column: str = "company_id"
    # Rows another party relies on (a machine client) are anonymised, never deleted.
    keep_rows: bool = False
    sealed: Sealed | None = None
    # Withholds other people's cells inside the subject's opened rows (see `Withhold`).
    withhold: Withhold | None = None


@dataclass(frozen=True)
class Scrub:
    """Free-text columns of a table where the subject's e-mail may appear inside other people's rows."""

    table: sa.Table
    columns: tuple[str, ...]
    company_column: str = "company_id"


@dataclass(frozen=True)
class Orphans:
    """Rows of `table` left unreferenced by `link` once the subject's rows are gone are deleted too."""

    table: sa.Table
    link: sa.Table
    columns: tuple[str, ...]


@dataclass(frozen=True)
class SubjectMap:
    """Everything one service holds about people, and what the law requires it to keep."""

    service: str
    holdings: tuple[Holding, ...]
    scrubs: tuple[Scrub, ...] = ()
    orphans: tuple[Orphans, ...] = ()
    retained_reason: str = ""
    scrub_outbox: bool = True
    scrub_idempotency: bool = True


@dataclass
class Erasure:
    """What one erasure did."""

    found: int = 0
    erased: int = 0
    retained: int = 0
    retained_reason: str = ""
    tables: dict[str, int] = field(default_factory=dict)

    def count(self, table: str, n: int) -> None:
        """Adds `n` records erased from `table`."""
        if n:
            self.erased += n
            self.tables[table] = self.tables.get(table, 0) + n


def export(session: orm.Session, mapping: SubjectMap, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every row about the subject, table by table (children included), as JSON-ready dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    for holding in mapping.holdings:
        rows = _matching(session, holding, subject)
        _add(out, holding.table.name, _exported(session, holding, subject, rows))
        if holding.children:
            index = _email_index(session, holding, subject)
            roles = {r[holding.key]: _roles(holding.persons, r, subject, index) for r in rows}
            _export_children(session, holding.children, _Parents(subject, roles), out)
    return out


def count(records: Mapping[str, list[dict[str, Any]]]) -> int:
    """Number of records in an export."""
    return sum(len(rows) for rows in records.values())


def erase(session: orm.Session, mapping: SubjectMap, subject: Subject) -> Erasure:
    """Erases the subject inside the caller's transaction; the result counts what was found and erased."""
    result = Erasure(retained_reason=mapping.retained_reason)
    result.found = count(export(session, mapping, subject))
    cipher = pii.optional(session)
    if cipher is not None and subject.profile_id:
        cipher.shred(subject.company_id, subject.profile_id)
    for holding in mapping.holdings:
        _erase_holding(session, holding, subject, result)
    for orphans in mapping.orphans:
        result.count(orphans.table.name, _delete_orphans(session, orphans, subject.company_id))
    for scrub in mapping.scrubs:
        result.count(scrub.table.name, _scrub_text(session, scrub, subject))
    if mapping.scrub_outbox:
        result.count(outbox.name, _scrub_outbox(session, subject))
    if mapping.scrub_idempotency:
        result.count(idempotency.table.name, _scrub_replays(session, subject))
    return result


def zero_freed_cells(session: orm.Session) -> bool:
    """On SQLite, freed cells are zeroed from here on, so old row images do not linger in the file's free
    pages; True when the database is SQLite (its old pages are then forgotten by `forget_old_pages`)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    session.execute(sa.text("PRAGMA secure_delete=ON"))
    return True


def forget_old_pages(engine: sa.Engine, result: Erasure) -> None:
    """After the erasure's commit: old row images outlive it in SQLite's write-ahead log and in PostgreSQL's
    dead tuples."""
    if result.erased:
        forget_pages(engine, result.tables)


def forget_pages(engine: sa.Engine, tables: Iterable[str]) -> None:
    """Old row images outlive a commit in SQLite's write-ahead log and in PostgreSQL's dead tuples:
    truncates the log, or rewrites `tables`."""
    if engine.dialect.name == "sqlite":
        # Outside any transaction (SQLAlchemy would open one): the raw connection is in autocommit.
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in sorted(set(tables)):
            connection.exec_driver_sql(f'VACUUM (FULL) "{table}"')


def _matching(session: orm.Session, holding: Holding, subject: Subject) -> list[dict[str, Any]]:
    table, conditions = holding.table, _person_conditions(holding, subject, _email_index(session, holding, subject))
    if not conditions:
        return []
    query = sa.select(table).where(table.c[holding.company_column] == subject.company_id, sa.or_(*conditions))
    return [dict(row) for row in session.execute(query.order_by(table.c[holding.key])).mappings()]


def _email_index(session: orm.Session, holding: Holding, subject: Subject) -> str:
    """The blind index of the subject's e-mail, when the holding stores one ("" otherwise)."""
    if not subject.email or not any(p.email_index for p in holding.persons.values()):
        return ""
    return pii.attached(session).blind(subject.company_id, pii.EMAIL, subject.email)


def _person_conditions(holding: Holding, subject: Subject, index: str = "") -> list[sa.ColumnElement[bool]]:
    return [c for person in holding.persons.values() for c in _is(holding.table, person, subject, index)]


def _is(table: sa.Table, person: Person, subject: Subject, index: str) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if person.email_index and index:
        conditions.append(table.c[person.email_index] == index)
    if person.email and subject.email:
        conditions.append(sa.func.lower(table.c[person.email]) == subject.email)
    if person.profile_id and subject.profile_id:
        conditions.append(table.c[person.profile_id] == subject.profile_id)
    return conditions


@dataclass(frozen=True)
class _Parents:
    """The rows whose children an export reads: by key, the roles the subject holds in each."""

    subject: Subject
    roles: Mapping[Any, frozenset[str]]


def _export_children(
    session: orm.Session, children: Sequence[Child], parents: _Parents, out: dict[str, list[dict[str, Any]]]
) -> None:
    for child in children:
        rows = _children_of(session, child, list(parents.roles))
        mine = [_child_withheld(child, row, parents) for row in rows]
        _add(out, child.table.name, _opened(session, child.table, child.sealed, mine))
        roles = {r[child.key]: parents.roles[r[child.column]] for r in rows}
        _export_children(session, child.children, _Parents(parents.subject, roles), out)


def _child_withheld(child: Child, row: dict[str, Any], parents: _Parents) -> dict[str, Any]:
    """A child row with the columns of the people it names other than the subject, and the columns its
    parent's other role wrote, withheld."""
    withheld = _withheld(child.persons, row, parents.subject, "")
    if child.by_column is None or row[child.by_column] in parents.roles[row[child.column]]:
        return withheld
    return {k: WITHHELD if k in child.role_owned else v for k, v in withheld.items()}


def _children_of(session: orm.Session, child: Child, keys: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 500):
        query = sa.select(child.table).where(child.table.c[child.column].in_(keys[start : start + 500]))
        found.extend(dict(row) for row in session.execute(query).mappings())
    return found


def _exported(
    session: orm.Session, holding: Holding, subject: Subject, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The subject's rows as exported: other people's columns withheld before opening (their sealed values
    are never opened), then the holding's own withholding of cells inside the subject's columns."""
    index = _email_index(session, holding, subject)
    mine = [_withheld(holding.persons, row, subject, index) for row in rows]
    opened = _opened(session, holding.table, holding.sealed, mine)
    return opened if holding.withhold is None else [holding.withhold(row, subject) for row in opened]


def _roles(persons: Mapping[str, Person], row: Mapping[str, Any], subject: Subject, index: str) -> frozenset[str]:
    """The roles in which a row names the subject."""
    return frozenset(role for role, person in persons.items() if _names(row, person, subject, index))


def _withheld(persons: Mapping[str, Person], row: dict[str, Any], subject: Subject, index: str) -> dict[str, Any]:
    """The row with the columns of every person it names other than the subject set to `WITHHELD`."""
    others = [p for p in persons.values() if not _names(row, p, subject, index)]
    withheld = {c for person in others for c in (*person.columns(), person.email_index) if c}
    return {k: WITHHELD if k in withheld else v for k, v in row.items()}


def _opened(
    session: orm.Session, table: sa.Table, sealed: Sealed | None, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows with their sealed columns opened and their blind indexes left out."""
    if sealed is None or not rows:
        return rows
    cipher, opened = pii.attached(session), []
    for row in rows:
        record = str(row[sealed.record])
        values = {
            c: _open(cipher, row[c], field=f"{table.name}.{c}", record=record, layered=c in sealed.layered)
            for c in sealed.columns
            if row.get(c) and row[c] != WITHHELD
        }
        values |= {sealed.exported_as[c]: values.pop(c) for c in list(values) if c in sealed.exported_as}
        opened.append({k: v for k, v in (row | values).items() if k not in sealed.hidden})
    return opened


def _open(cipher: pii.PiiCipher, stored: str, *, field: str, record: str, layered: bool) -> str:
    if not layered:
        return cipher.open(stored, field=field, record=record)
    try:
        return cipher.open_layered(stored, field=field, record=record)
    except pii.SubjectErased:
        return ""


def _add(out: dict[str, list[dict[str, Any]]], name: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        out.setdefault(name, []).extend(_jsonable(r) for r in rows)


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _erase_holding(session: orm.Session, holding: Holding, subject: Subject, result: Erasure) -> None:
    index = _email_index(session, holding, subject)
    for row in _matching(session, holding, subject):
        mine = [role for role, p in holding.persons.items() if _names(row, p, subject, index)]
        others = [role for role, p in holding.persons.items() if role not in mine and _named(row, p)]
        if others or holding.keep_rows:
            _anonymise(session, holding, row, mine, result)
        else:
            _delete_tree(session, holding.children, [row[holding.key]], result)
            session.execute(sa.delete(holding.table).where(_this_row(holding.table, row)))
            result.count(holding.table.name, 1)


def _this_row(table: sa.Table, row: Mapping[str, Any]) -> sa.ColumnElement[bool]:
    return sa.and_(*(column == row[column.name] for column in table.primary_key.columns))


def _names(row: Mapping[str, Any], person: Person, subject: Subject, index: str = "") -> bool:
    email = row.get(person.email) if person.email else None
    pid = row.get(person.profile_id) if person.profile_id else None
    return bool(
        (index and person.email_index and row.get(person.email_index) == index)
        or (subject.email and isinstance(email, str) and email.lower() == subject.email)
        or (subject.profile_id and pid == subject.profile_id)
    )


def _named(row: Mapping[str, Any], person: Person) -> bool:
    return any(row.get(c) for c in (person.email, person.profile_id) if c)


def _anonymise(
    session: orm.Session, holding: Holding, row: Mapping[str, Any], roles: list[str], result: Erasure
) -> None:
    table, values = holding.table, {}
    for role in roles:
        for column in holding.persons[role].columns():
            values[column] = None if table.c[column].nullable else ERASED
    session.execute(sa.update(table).where(_this_row(table, row)).values(**values))
    result.count(table.name, 1)
    for child in holding.children:
        if child.by_column is not None:
            rows = session.execute(
                sa.select(child.table.c[child.key]).where(
                    child.table.c[child.column] == row[holding.key], child.table.c[child.by_column].in_(roles)
                )
            ).scalars()
            _delete_rows(session, child, list(rows), result)


def _delete_tree(session: orm.Session, children: Sequence[Child], keys: list[Any], result: Erasure) -> None:
    for child in (c for c in children if not c.export_only):
        rows = [r[child.key] for r in _children_of(session, child, keys)]
        _delete_rows(session, child, rows, result)


def _delete_rows(session: orm.Session, child: Child, keys: list[Any], result: Erasure) -> None:
    if not keys:
        return
    _delete_tree(session, child.children, keys, result)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        session.execute(sa.delete(child.table).where(child.table.c[child.key].in_(chunk)))
    result.count(child.table.name, len(keys))


def _delete_orphans(session: orm.Session, orphans: Orphans, company_id: str) -> int:
    table, link = orphans.table, orphans.link
    referenced = sa.exists().where(*(link.c[c] == table.c[c] for c in orphans.columns))
    statement = sa.delete(table).where(table.c.company_id == company_id, ~referenced)
    # Core statements on the session's connection return a CursorResult, which carries rowcount.
    return session.connection().execute(statement).rowcount


def _scrub_text(session: orm.Session, scrub: Scrub, subject: Subject) -> int:
    """Replaces the subject's e-mail inside free text of the company's rows; counts the rows changed."""
    if not subject.email:
        return 0
    table, changed = scrub.table, 0
    keys = list(table.primary_key.columns)
    for column in scrub.columns:
        query = sa.select(*keys, table.c[column]).where(
            table.c[scrub.company_column] == subject.company_id,
            sa.func.lower(table.c[column]).contains(subject.email, autoescape=True),
        )
        for found in session.execute(query).mappings().all():
            row = dict(found)
            text = _without(row[column], subject.email)
            session.execute(sa.update(table).where(_this_row(table, row)).values({column: text}))
            changed += 1
    return changed


def _without(text: str, email: str) -> str:
    lowered, out, start = text.lower(), [], 0
    while (at := lowered.find(email, start)) >= 0:
        out.append(text[start:at] + "[erased]")
        start = at + len(email)
    return "".join(out) + text[start:]


def _scrub_outbox(session: orm.Session, subject: Subject) -> int:
    """Outbox envelopes naming the subject (published or not) are deleted; a copy would outlive erasure."""
    needles = subject.needles()
    doomed = [
        event_id
        for event_id, envelope in session.execute(sa.select(outbox.c.event_id, outbox.c.envelope))
        if subject.company_id.encode() in envelope and any(n in envelope for n in needles)
    ]
    for start in range(0, len(doomed), 500):
        session.execute(sa.delete(outbox).where(outbox.c.event_id.in_(doomed[start : start + 500])))
    return len(doomed)


def _reply(session: orm.Session, subject: Subject, row: Any) -> bytes:
    scope = idempotency.Scope(tenant=subject.company_id, subject=row.subject, method=row.method, key=row.key)
    return idempotency.opened_reply(session, scope, row.response)


def _scrub_replays(session: orm.Session, subject: Subject) -> int:
    """Stored idempotent replies of the company that name the subject are deleted."""
    t, needles = idempotency.table, subject.needles()
    rows = session.execute(
        sa.select(t.c.subject, t.c.method, t.c.key, t.c.response).where(t.c.tenant == subject.company_id)
    ).all()
    doomed = [r for r in rows if r.response is not None and any(n in _reply(session, subject, r) for n in needles)]
    for r in doomed:
        session.execute(
            sa.delete(t).where(
                t.c.tenant == subject.company_id, t.c.subject == r.subject, t.c.method == r.method, t.c.key == r.key
            )
        )
    return len(doomed)
