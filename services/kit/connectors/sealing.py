"""A connector's personal columns sealed at rest (services/kit/security/pii), declared once per table.

Each sealed column names whose data key seals it: a person's e-mail, source id and names with that
person's (subject = the row's `<prefix>_profile_id`, derived from company and e-mail as every service
derives it, so erasing the person by e-mail or profile id shreds that key); free text with the key of
the person who wrote it; a value naming several people (a quarantined CSV row) with each one's key in
turn (`layered`), so erasing any of them erases it. A sealed value is bound to `<table>.<column>` and
the row's key. Rows written before sealing keep their plain values until the online migration seals
them (`seal_batch`); reads open both forms, and look-ups by e-mail compare the profile id column (or
the plain e-mail of rows not sealed yet), never a sealed value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.persistence.subjects import Sealed
from services.kit.security.pii import PiiCipher, SubjectErased
from services.kit.security.pii.cipher import PREFIX, Keys
from services.kit.security.pii.maintenance import in_turn

# The columns of a person (services/kit/connectors/storage.person_columns) that are sealed.
PERSON_FIELDS = ("email", "external_id", "given_name", "family_name")
BATCH = 500
Row = sa.RowMapping | Mapping[str, Any]
# The profile id whose key seals a column of a row, when another table names the writer (a rating's rater).
Writer = Callable[[orm.Session, Row], str]
# The profile ids whose keys seal a column of a row in turn, in a fixed order (a row naming several people).
Named = Callable[[Row], Sequence[str]]
# The rows the online migration reads (matching the condition, at most the number), ready to seal.
Reader = Callable[[orm.Session, sa.ColumnElement[bool], int], Sequence[Row]]


@dataclass(frozen=True)
class SealedTable:
    """One table's sealed columns, each with the column (or the look-up) naming whose key seals it.

    A table whose rows the online migration must read, scope or write back differently says so in fields
    (`reader`, `scope`, `key`, `written`) rather than in a subclass."""

    table: sa.Table
    record: str
    subjects: Mapping[str, str] = field(default_factory=dict)
    writers: Mapping[str, Writer] = field(default_factory=dict)
    # Columns sealed with the key of every person the row names, in turn (opening needs all of them).
    layered: Mapping[str, Named] = field(default_factory=dict)
    # The columns naming one row when sealed values are written back (default: `record`).
    key: tuple[str, ...] = ()
    # Columns written back with the sealed ones (what `reader` fills in: a row's company and person).
    written: tuple[str, ...] = ()
    # The rows the online migration seals (default: every row; the others are another step's).
    scope: sa.ColumnElement[bool] | None = field(default=None, compare=False)
    # How the online migration reads rows (default: the table's own rows, as stored).
    reader: Reader | None = None

    @classmethod
    def of(
        cls,
        table: sa.Table,
        *,
        record: str,
        persons: Sequence[str] = (),
        texts: Mapping[str, str] | None = None,
        writers: Mapping[str, Writer] | None = None,
        layered: Mapping[str, Named] | None = None,
        key: Sequence[str] = (),
        written: Sequence[str] = (),
        scope: sa.ColumnElement[bool] | None = None,
        reader: Reader | None = None,
    ) -> SealedTable:
        """The table's person column groups (`persons`, by prefix) sealed with each person's key, and
        free-text columns with the key of the profile id column that wrote them (`texts`), that a look-up
        finds (`writers`) or of every person the row names (`layered`)."""
        subjects = {f"{p}_{f}": f"{p}_profile_id" for p in persons for f in PERSON_FIELDS} | dict(texts or {})
        return cls(
            table,
            record,
            subjects,
            dict(writers or {}),
            layered=dict(layered or {}),
            key=tuple(key),
            written=tuple(written),
            scope=scope,
            reader=reader,
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """Every sealed column."""
        return (*self.subjects, *self.writers, *self.layered)

    def privacy(self) -> Sealed:
        """The privacy map's declaration: exports open these columns."""
        return Sealed(self.columns, record=self.record, layered=tuple(self.layered))

    def seal(self, session: orm.Session, cipher: PiiCipher, row: Row, *, keys: Keys | None = None) -> dict[str, Any]:
        """The row with its sealed columns sealed (already sealed values kept as they are)."""
        return self._sealed(cipher, row, self._plan(session, row), keys)

    def seal_rows(self, session: orm.Session, cipher: PiiCipher, rows: Sequence[Row]) -> list[dict[str, Any]]:
        """Many rows sealed, each company's data keys fetched (and the missing ones created) at once; each
        row's columns and subjects worked out once, for the keys and the sealing."""
        plans = [self._plan(session, row) for row in rows]
        wanted: dict[str, set[str]] = {}
        for row, plan in zip(rows, plans, strict=True):
            wanted.setdefault(row["company_id"], set()).update(s for _, subjects in plan for s in subjects)
        keys = {company: cipher.keys.keys_for(company, subjects) for company, subjects in wanted.items()}
        return [self._sealed(cipher, row, plan, keys[row["company_id"]]) for row, plan in zip(rows, plans, strict=True)]

    def open(self, cipher: PiiCipher, row: Row) -> dict[str, Any]:
        """The row with its sealed columns opened (plain values, from before sealing, as they are); a
        layered column one of whose people was erased reads as "" (erasing any of them erased it)."""
        record, opened = str(row[self.record]), dict(row)
        for column in self.columns:
            if row.get(column):
                opened[column] = self._open(cipher, row[column], column, record)
        return opened

    def plain(self) -> sa.ColumnElement[bool]:
        """Rows (in scope) holding a value not sealed yet."""
        holding = sa.or_(*(_plain(self.table.c[c]) for c in self.columns))
        return holding if self.scope is None else sa.and_(self.scope, holding)

    def sealed(self) -> sa.ColumnElement[bool]:
        """Rows holding a sealed value."""
        return sa.or_(*(self.table.c[c].like(f"{PREFIX}%") for c in self.columns))

    def seal_batch(self, session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
        """Seals up to `batch` rows still holding plain values; the number sealed."""
        found = self.read(session, self.plain(), batch)
        self.write(session, self.seal_rows(session, cipher, found))
        return len(found)

    def unseal_batch(self, session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
        """Writes up to `batch` sealed rows back in plain text (the rollback of sealing); the number changed."""
        found = self.read(session, self.sealed(), batch)
        self.write(session, [self.open(cipher, row) for row in found])
        return len(found)

    def read(self, session: orm.Session, where: sa.ColumnElement[bool], batch: int) -> Sequence[Row]:
        """Up to `batch` rows matching `where`, as the online migration seals or unseals them (`reader`)."""
        if self.reader is not None:
            return self.reader(session, where, batch)
        return session.execute(sa.select(self.table).where(where).limit(batch)).mappings().all()

    def write(self, session: orm.Session, rows: Sequence[Row]) -> None:
        """Writes the sealed (and `written`) columns of these rows back, each found by its `key`."""
        key = [self.table.c[c] for c in self.key or (self.record,)]
        for row in rows:
            values = {c: row[c] for c in (*self.columns, *self.written)}
            this = sa.and_(*(column == row[column.name] for column in key))
            session.execute(self.table.update().where(this).values(**values))

    def _plain_columns(self, row: Row) -> list[str]:
        return [c for c in self.columns if (value := row.get(c)) and not value.startswith(PREFIX)]

    def _subjects(self, session: orm.Session, row: Row, column: str) -> list[str]:
        if column in self.layered:
            return list(self.layered[column](row)) or [""]
        if column in self.writers:
            return [self.writers[column](session, row)]
        return [str(row.get(self.subjects[column]) or "")]

    def _plan(self, session: orm.Session, row: Row) -> list[tuple[str, list[str]]]:
        """The row's columns still plain, each with the subjects whose keys seal it."""
        return [(column, self._subjects(session, row, column)) for column in self._plain_columns(row)]

    def _sealed(
        self, cipher: PiiCipher, row: Row, plan: Sequence[tuple[str, Sequence[str]]], keys: Keys | None
    ) -> dict[str, Any]:
        sealed, company, record = dict(row), row["company_id"], str(row[self.record])
        for column, subjects in plan:
            field = self._field(column)
            sealed[column] = cipher.seal_layered(
                row[column], company_id=company, subjects=subjects, field=field, record=record, keys=keys
            )
        return sealed

    def _open(self, cipher: PiiCipher, stored: str, column: str, record: str) -> str:
        if column not in self.layered:
            return cipher.open(stored, field=self._field(column), record=record)
        try:
            return cipher.open_layered(stored, field=self._field(column), record=record)
        except SubjectErased:
            return ""

    def _field(self, column: str) -> str:
        return f"{self.table.name}.{column}"


def seal_all(tables: Sequence[SealedTable], session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """One batch of a service's online migration over its tables in order; the number of rows sealed."""
    return in_turn(tables, lambda table, left: table.seal_batch(session, cipher, batch=left), batch)


def unseal_all(tables: Sequence[SealedTable], session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """One batch of the rollback of sealing over a service's tables; the number of rows written back plain."""
    return in_turn(tables, lambda table, left: table.unseal_batch(session, cipher, batch=left), batch)


def _plain(column: sa.Column[Any]) -> sa.ColumnElement[bool]:
    return sa.and_(column.is_not(None), column != "", sa.not_(column.like(f"{PREFIX}%")))
